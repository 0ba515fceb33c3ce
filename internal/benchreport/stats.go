package benchreport

import (
	"math"

	"golang.org/x/perf/benchmath"
)

// Confidence is the confidence level of the intervals reported.
const Confidence = 0.95

// Stat summarises one sample the way benchstat does: no assumption about the
// distribution, so the center is the median and the interval is the
// order-statistic confidence interval of the median.
type Stat struct {
	benchmath.Summary
	N      int
	sample *benchmath.Sample
}

// Summarize summarises values; ok is false when there are none.
func Summarize(values []float64) (Stat, bool) {
	if len(values) == 0 {
		return Stat{}, false
	}
	s := benchmath.NewSample(values, &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(s, Confidence)
	if math.IsInf(sum.Lo, 0) || math.IsInf(sum.Hi, 0) {
		// Five runs (make bench's default) are one short of a 95% interval
		// for the median; their full range is a 94% one.
		sum = benchmath.AssumeNothing.Summary(s, FallbackConfidence)
	}
	return Stat{Summary: sum, N: len(values), sample: s}, true
}

// FallbackConfidence is used when a sample is too small for Confidence: with
// 5 values the interval is their range, at 93.75%.
const FallbackConfidence = 0.90

// Spread is the interval as benchstat prints it: "±3%", or "∞" when the
// sample is too small for an interval at this confidence.
func (s Stat) Spread() string {
	if s.N == 0 {
		return ""
	}
	return s.PctRangeString()
}

// Compare tests whether a and b differ (Mann-Whitney U).
func Compare(a, b Stat) benchmath.Comparison {
	return benchmath.AssumeNothing.Compare(a.sample, b.sample)
}

// Significant reports whether a and b differ at the default alpha (0.05).
func Significant(a, b Stat) bool {
	if a.N == 0 || b.N == 0 {
		return false
	}
	c := Compare(a, b)
	return c.P < c.Alpha
}

// Ratio is b's center over a's, NaN when a's is 0.
func Ratio(a, b Stat) float64 {
	if a.Center == 0 {
		return math.NaN()
	}
	return b.Center / a.Center
}
