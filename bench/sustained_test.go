package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.uber.org/goleak"
)

func TestSustainedFindsARate(t *testing.T) {
	defer goleak.VerifyNone(t)
	sc := Scenario{Strategy: "chan-block", Readers: 2, Batch: 4, Payload: 64}
	var probes int
	res, err := Sustained(sc, SustainOptions{Probe: 40 * time.Millisecond, Steps: 2, Progress: func(float64, bool, string) { probes++ }})
	if err != nil {
		t.Fatal(err)
	}
	// A lossless strategy with fast readers sustains at least the lowest
	// probe (a thousandth of flat out); the search never exceeds its bound.
	if res.Rate <= 0 || res.Rate > res.FlatOut*1.05 {
		t.Errorf("rate %v with flat out %v", res.Rate, res.FlatOut)
	}
	if res.Deliveries != res.Rate*2 {
		t.Errorf("deliveries %v, want rate × readers = %v", res.Deliveries, res.Rate*2)
	}
	if probes < 3 || res.Probes < probes+1 {
		t.Errorf("%d probes reported, %d counted (plus the flat-out runs)", probes, res.Probes)
	}
}

func TestSustainJudge(t *testing.T) {
	o := SustainOptions{}
	o.defaults()
	lat := func(p99 time.Duration) *hdrhistogram.Histogram {
		h := hdrhistogram.New(1, int64(100*time.Second), 2)
		_ = h.RecordValue(int64(p99))
		return h
	}
	mk := func(lost uint64, pubTime, p99 time.Duration) *Result {
		return &Result{Scenario: Scenario{Rate: 1000}, Published: 1000, PublishTime: pubTime,
			Consumers: []ConsumerResult{{Class: Fast, Delivered: 1000 - lost, Lost: lost, Latency: lat(p99)}}}
	}
	for _, c := range []struct {
		r    *Result
		pass bool
		why  string
	}{
		{mk(0, time.Second, time.Millisecond), true, ""},
		{mk(5, time.Second, time.Millisecond), false, "loss 0.5%"},
		{mk(0, 2*time.Second, time.Millisecond), false, "published 500/s of 1000/s"},
		{mk(0, time.Second, 20*time.Millisecond), false, "p99 20"},
	} {
		pass, why := o.judge(c.r)
		if pass != c.pass || !strings.HasPrefix(why, c.why) {
			t.Errorf("judge = %v %q, want %v %q", pass, why, c.pass, c.why)
		}
	}
}
