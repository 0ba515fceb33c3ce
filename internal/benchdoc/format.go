package benchdoc

import (
	"fmt"
	"math"
	"strings"

	"github.com/ringcast/ringcast/internal/benchreport"
)

// Formatting of measured values with their spread and of comparisons
// between them; plain numbers are formatted by package report.

// withSpread renders a Stat's center and its interval, as benchstat does:
// "12.3M ±4%".
func withSpread(s benchreport.Stat, f func(float64) string) string {
	sp := strings.TrimSpace(strings.TrimPrefix(s.Spread(), "±"))
	if sp == "" || sp == "0%" {
		return f(s.Center)
	}
	return f(s.Center) + " ±" + sp
}

// fmtRatio renders b/a as "12×" (or "0.52×"), "~" when the difference is
// not significant.
func fmtRatio(a, b benchreport.Stat) string {
	return fmtRelative(a, b, func(r float64) string { return fmt.Sprintf("%.2g×", r) })
}

// fmtChange renders b relative to a as "+12%", "~" when not significant.
func fmtChange(a, b benchreport.Stat) string {
	return fmtRelative(a, b, func(r float64) string { return fmt.Sprintf("%+.0f%%", 100*(r-1)) })
}

// fmtRelative renders the ratio b/a: "–" when undefined, "~" when not
// significant, "12×" from 10× up, and small(r) below.
func fmtRelative(a, b benchreport.Stat, small func(r float64) string) string {
	r := benchreport.Ratio(a, b)
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "–"
	case !benchreport.Significant(a, b):
		return "~"
	case r >= 10:
		return fmt.Sprintf("%.0f×", r)
	}
	return small(r)
}
