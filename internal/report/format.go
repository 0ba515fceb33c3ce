// Package report holds what ringcast's reports have in common and a library
// may link: numbers, durations and sizes written for people, function names
// shortened for profile tables, and Markdown tables. It imports no chart or
// profile code: the charts are in report/chart (gonum/plot) and the profile
// summaries in report/proftop (github.com/google/pprof/profile), so that
// loadgen, which formats its text report with this package, links neither.
package report

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"golang.org/x/perf/benchunit"
)

// Ms renders milliseconds: µs below 1 ms, s from 10 s.
func Ms(ms float64) string {
	switch {
	case ms == 0:
		return "0"
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 100:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 10000:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.1fs", ms/1000)
}

// Rate renders a rate with a fixed number of decimals per range: 1.50M,
// 15.0k, 150 (the load generator's tables, where columns line up).
func Rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// SI renders a value with an SI prefix and three significant digits: 150k,
// 4M, 12.3M (the benchmark report, whose values span many decades).
func SI(v float64) string {
	prefixes := []string{"", "k", "M", "G", "T"}
	i := 0
	for math.Abs(v) >= 999.5 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + prefixes[i]
}

// Seconds renders a duration given in seconds with three significant digits
// in the largest unit below it: 1.5s, 250ms, 12.3µs, 80ns.
func Seconds(sec float64) string {
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

// Percent renders a fraction (0..1) as a percentage: two significant digits
// below 10%, three above.
func Percent(f float64) string {
	switch {
	case f == 0:
		return "0"
	case f < 0.1:
		return fmt.Sprintf("%.2g%%", 100*f)
	}
	return fmt.Sprintf("%.3g%%", 100*f)
}

// Count renders a count: whole numbers below 1000 as they are, others with
// three significant digits.
func Count(v float64) string {
	if v == math.Trunc(v) && v < 1000 {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%.3g", v)
}

// Bytes renders a size in binary units with a fixed number of decimals:
// 512B, 1.5KiB, 2.25GiB.
func Bytes(b int64) string {
	neg := ""
	if b < 0 {
		neg, b = "-", -b
	}
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%s%.2fGiB", neg, float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%s%.1fMiB", neg, float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%s%.1fKiB", neg, float64(b)/(1<<10))
	}
	return fmt.Sprintf("%s%dB", neg, b)
}

// ScaledBytes renders a (fractional) size in binary units with benchstat's
// scaling: 1.5KiB, 12MiB.
func ScaledBytes(v float64) string {
	if v == 0 {
		return "0"
	}
	return benchunit.Scale(v, benchunit.Binary) + "B"
}

// ProfileValue renders a profile value in its unit: durations for
// nanoseconds, binary sizes for bytes, plain counts otherwise.
func ProfileValue(v int64, unit string) string {
	switch unit {
	case "nanoseconds":
		d := time.Duration(v)
		switch {
		case d >= time.Second:
			return fmt.Sprintf("%.2fs", d.Seconds())
		case d >= time.Millisecond:
			return fmt.Sprintf("%.1fms", float64(d)/1e6)
		}
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case "bytes":
		return Bytes(v)
	}
	return fmt.Sprint(v)
}

// Plural is n and what, with an s unless n is 1: "1 reader", "16 readers".
func Plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
