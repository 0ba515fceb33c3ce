package loadgenhtml

import (
	"bytes"
	"fmt"
	"math"

	"gonum.org/v1/plot"

	"github.com/ringcast/ringcast/internal/report/chart"
	"github.com/ringcast/ringcast/loadgen"
)

// nines maps a percentile to its "number of nines" (90 -> 1, 99 -> 2), the
// x axis of a percentile spectrum.
func nines(percentile float64) float64 {
	q := percentile / 100
	if q >= 1 {
		return math.Inf(1)
	}
	return -math.Log10(1 - q)
}

func spectrumTicks(maxNines float64) []plot.Tick {
	ticks := []plot.Tick{{Value: 0, Label: "0%"}}
	for n := 1; float64(n) <= maxNines+0.01; n++ {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: percentLabel(n)})
	}
	return ticks
}

func percentLabel(nines int) string {
	switch nines {
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return fmt.Sprintf("99.%s%%", string(bytes.Repeat([]byte("9"), nines-2)))
}

// throughput draws published and delivered events per second over the
// run.
func throughput(r *loadgen.Result) (*chart.Chart, error) {
	var xs, pub, del, exp []float64
	fanout := 1.0
	if r.Config.Topics > 0 && !r.Config.AllTopics {
		fanout = float64(r.Subscribers) / float64(r.Config.Topics)
	} else if r.Config.AllTopics {
		fanout = float64(r.Subscribers)
	}
	for _, p := range r.Series {
		xs = append(xs, p.AtSec)
		pub = append(pub, p.PublishedPS/1000)
		del = append(del, p.DeliveredPS/1000)
		exp = append(exp, p.PublishedPS*fanout/1000)
	}
	return chart.Lines(chart.LineOptions{Title: "Throughput", XLabel: "seconds since start", YLabel: "thousand events/s"}, []chart.Series{
		{Name: "delivered/s", X: xs, Y: del},
		{Name: "published/s × subscribers per topic", X: xs, Y: exp, Dashed: true},
		{Name: "published/s", X: xs, Y: pub},
	})
}

// latencyOverTime draws the latency percentiles of the events intended in
// each interval.
func latencyOverTime(r *loadgen.Result) (*chart.Chart, error) {
	var xs, p50, p90, p99, p999, mx []float64
	for _, p := range r.LatencySeries {
		if p.Count == 0 {
			continue
		}
		xs = append(xs, p.AtSec)
		p50 = append(p50, p.P50Ms)
		p90 = append(p90, p.P90Ms)
		p99 = append(p99, p.P99Ms)
		p999 = append(p999, p.P999Ms)
		mx = append(mx, p.MaxMs)
	}
	return chart.Lines(chart.LineOptions{Title: "Latency over time (from intended send time)", XLabel: "intended send time, s", YLabel: "ms", LogY: true}, []chart.Series{
		{Name: "p50", X: xs, Y: p50}, {Name: "p90", X: xs, Y: p90}, {Name: "p99", X: xs, Y: p99},
		{Name: "p99.9", X: xs, Y: p999}, {Name: "max", X: xs, Y: mx, Dashed: true},
	})
}

// latencyDistribution draws the percentile spectrum of the whole run.
func latencyDistribution(r *loadgen.Result) (*chart.Chart, error) {
	var xs, ys []float64
	maxN := 0.0
	for _, s := range r.Spectrum {
		n := nines(s.Percentile)
		if math.IsInf(n, 0) {
			continue
		}
		xs = append(xs, n)
		ys = append(ys, s.Ms)
		maxN = math.Max(maxN, n)
	}
	return chart.Lines(chart.LineOptions{Title: "Latency distribution", XLabel: "percentile", YLabel: "ms", LogY: true, XTicks: spectrumTicks(maxN)},
		[]chart.Series{{Name: "latency", X: xs, Y: ys}})
}
