package benchreport

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/perf/benchunit"
)

// Formatting for the markdown report: SI rates, durations from seconds,
// percentages, binary sizes.

// fmtRate renders a count per second with an SI prefix and three
// significant digits: 150k, 4M, 12.3M.
func fmtRate(v float64) string {
	prefixes := []string{"", "k", "M", "G", "T"}
	i := 0
	for math.Abs(v) >= 999.5 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + prefixes[i]
}

func fmtDur(sec float64) string {
	switch {
	case sec == 0:
		return "0"
	case sec >= 1:
		return fmt.Sprintf("%.3gs", sec)
	case sec >= 1e-3:
		return fmt.Sprintf("%.3gms", sec*1e3)
	case sec >= 1e-6:
		return fmt.Sprintf("%.3gµs", sec*1e6)
	}
	return fmt.Sprintf("%.3gns", sec*1e9)
}

func fmtFrac(f float64) string {
	switch {
	case f == 0:
		return "0"
	case f < 0.0001:
		return fmt.Sprintf("%.2g%%", 100*f)
	case f < 0.1:
		return fmt.Sprintf("%.2g%%", 100*f)
	}
	return fmt.Sprintf("%.3g%%", 100*f)
}

func fmtBytes(v float64) string {
	if v == 0 {
		return "0"
	}
	return benchunit.Scale(v, benchunit.Binary) + "B"
}

func fmtCount(v float64) string {
	if v == math.Trunc(v) && v < 1000 {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%.3g", v)
}

// withSpread renders a Stat's center and its interval, as benchstat does:
// "12.3M ±4%".
func withSpread(s Stat, f func(float64) string) string {
	sp := strings.TrimSpace(strings.TrimPrefix(s.Spread(), "±"))
	if sp == "" || sp == "0%" {
		return f(s.Center)
	}
	return f(s.Center) + " ±" + sp
}

// fmtRatio renders b/a as "12×" (or "0.52×"), "~" when the difference is
// not significant.
func fmtRatio(a, b Stat) string {
	return fmtRelative(a, b, func(r float64) string { return fmt.Sprintf("%.2g×", r) })
}

// fmtChange renders b relative to a as "+12%", "~" when not significant.
func fmtChange(a, b Stat) string {
	return fmtRelative(a, b, func(r float64) string { return fmt.Sprintf("%+.0f%%", 100*(r-1)) })
}

// fmtRelative renders the ratio b/a: "–" when undefined, "~" when not
// significant, "12×" from 10× up, and small(r) below.
func fmtRelative(a, b Stat, small func(r float64) string) string {
	r := Ratio(a, b)
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "–"
	case !Significant(a, b):
		return "~"
	case r >= 10:
		return fmt.Sprintf("%.0f×", r)
	}
	return small(r)
}

// table is a markdown table under construction. Columns are right-aligned
// (numbers) except the first, or as align says ('l' or 'r' per column).
type table struct {
	head  []string
	rows  [][]string
	align string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) String() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(t.head, " | ") + " |\n|")
	for i := range t.head {
		left := i == 0
		if i < len(t.align) {
			left = t.align[i] == 'l'
		}
		if left {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}
