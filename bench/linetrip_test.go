package bench

import (
	"runtime"
	"testing"
)

func TestLineRoundTrip(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: the probe needs two")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	d := LineRoundTrip(1000)
	if d <= 0 || d >= lineTripLimit {
		t.Fatalf("LineRoundTrip(1000) = %v, want a positive round trip under %v", d, lineTripLimit)
	}
	if d := LineRoundTrip(0); d != 0 {
		t.Errorf("LineRoundTrip(0) = %v, want 0", d)
	}
	runtime.GOMAXPROCS(1)
	if d := LineRoundTrip(1000); d != 0 {
		t.Errorf("with GOMAXPROCS 1: LineRoundTrip = %v, want 0 (the two goroutines would take turns)", d)
	}
}

func TestFanoutResultsCarryTheLineRoundTrip(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("GOMAXPROCS 1: no round trip to measure")
	}
	res := runOrFail(t, Scenario{Strategy: "ring-adaptive", Readers: 1, Batch: 1, Payload: 64, Consumers: AllFast}, 1000)
	for _, m := range res.Metrics() {
		if m.Unit == UnitLineTrip {
			if m.Value <= 0 {
				t.Errorf("%s = %v, want the probe's round trip", UnitLineTrip, m.Value)
			}
			return
		}
	}
	t.Errorf("Metrics() lacks %s", UnitLineTrip)
}
