package bench

import (
	"fmt"
	"math"
	"time"
)

// Sustained throughput: the highest publish rate a strategy keeps up with,
// fast consumers all getting (nearly) everything, promptly. Flat out, a
// publisher that never waits (the ring, the dropping channels) outruns its
// readers on a small machine and most of what it publishes is lost, so events
// published per second says little; events delivered per second at the
// highest rate nobody falls behind is what a user can count on.
//
// A rate is sustained when a paced run at that rate (SustainOptions.Probe
// long) meets all of:
//
//	loss       healthy consumers lost at most MaxLoss of the events
//	schedule   the publisher kept at least MinOnSchedule of the rate
//	latency    healthy consumers' p99 latency stayed under MaxP99
//
// The search: one flat-out run bounds the rate from above (a paced publisher
// is never faster than an unpaced one); the bound and its 1/1000th are then
// bisected on a log scale, Steps times. A failing probe is run once more and
// the rate fails only if it fails twice, so that one scheduling hiccup on a
// shared machine does not end the search; a rate that really is too high
// fails both times.

// SustainOptions tune the search; the zero value means the defaults.
type SustainOptions struct {
	Probe         time.Duration // length of each probe run (default 40 ms)
	Steps         int           // bisection steps (default 6: 1000^(1/64) ≈ 11% resolution)
	MaxLoss       float64       // default 0.001
	MinOnSchedule float64       // default 0.95
	MaxP99        time.Duration // default 10 ms
	// Progress, if set, is told about each probe.
	Progress func(rate float64, pass bool, why string)
}

func (o *SustainOptions) defaults() {
	if o.Probe <= 0 {
		o.Probe = 40 * time.Millisecond
	}
	if o.Steps <= 0 {
		o.Steps = 6
	}
	if o.MaxLoss <= 0 {
		o.MaxLoss = 0.001
	}
	if o.MinOnSchedule <= 0 {
		o.MinOnSchedule = 0.95
	}
	if o.MaxP99 <= 0 {
		o.MaxP99 = 10 * time.Millisecond
	}
}

// SustainResult is what the search found.
type SustainResult struct {
	Rate       float64 // events/s sustained; 0 if even the lowest rate failed
	Deliveries float64 // Rate × readers
	FlatOut    float64 // the flat-out publish rate that bounded the search
	Probes     int
	Last       *Result // the last passing probe
}

// Sustained searches the highest rate sc's strategy sustains with sc's
// readers, batch and payload (sc.Consumers and sc.Rate are ignored: every
// consumer is fast, the search sets the rate).
func Sustained(sc Scenario, opt SustainOptions) (*SustainResult, error) {
	opt.defaults()
	sc.Consumers, sc.Rate = AllFast, 0
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	out := &SustainResult{}
	// Flat out, sized to last about one probe.
	events := max(sc.Batch, 2048)
	for {
		r, err := Run(sc, RunOptions{Events: events})
		if err != nil {
			return nil, err
		}
		out.Probes++
		if r.PublishTime >= opt.Probe/2 || events >= 1<<26 {
			out.FlatOut = float64(r.Published) / max(r.PublishTime.Seconds(), 1e-9)
			break
		}
		events *= 4
	}
	probe := func(rate float64) (bool, *Result, error) {
		sc.Rate = max(int(rate), 1)
		n := max(int(rate*opt.Probe.Seconds()), sc.Batch) // a probe lasts Probe, however slow the rate
		var r *Result
		var pass bool
		for try := 0; try < 2 && !pass; try++ {
			var err error
			if r, err = Run(sc, RunOptions{Events: n}); err != nil {
				return false, nil, err
			}
			out.Probes++
			var why string
			pass, why = opt.judge(r)
			if opt.Progress != nil {
				opt.Progress(rate, pass, why)
			}
		}
		return pass, r, nil
	}
	hi := out.FlatOut * 1.05
	lo := hi / 1000
	ok, r, err := probe(lo)
	if err != nil {
		return nil, err
	}
	if !ok {
		return out, nil // not even a thousandth of flat out: report 0
	}
	out.Rate, out.Last = lo, r
	for range opt.Steps {
		mid := math.Sqrt(lo * hi)
		ok, r, err := probe(mid)
		if err != nil {
			return nil, err
		}
		if ok {
			lo, out.Rate, out.Last = mid, mid, r
		} else {
			hi = mid
		}
	}
	out.Deliveries = out.Rate * float64(sc.Readers)
	return out, nil
}

// judge applies the sustain criteria to a probe.
func (o *SustainOptions) judge(r *Result) (bool, string) {
	n, _, lost, lat := r.Totals(true)
	loss := float64(lost) / (float64(r.Published) * float64(n))
	achieved := float64(r.Published) / max(r.PublishTime.Seconds(), 1e-9)
	p99 := time.Duration(lat.ValueAtQuantile(99))
	switch {
	case loss > o.MaxLoss:
		return false, fmt.Sprintf("loss %.3g%%", 100*loss)
	case achieved < o.MinOnSchedule*float64(r.Scenario.Rate):
		return false, fmt.Sprintf("published %.3g/s of %d/s", achieved, r.Scenario.Rate)
	case p99 > o.MaxP99:
		return false, fmt.Sprintf("p99 %v", p99)
	}
	return true, ""
}
