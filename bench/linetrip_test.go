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
	d := LineRoundTrip(LineTripRounds)
	if d <= 0 || d >= lineTripLimit {
		t.Fatalf("LineRoundTrip(LineTripRounds) = %v, want a positive round trip under %v", d, lineTripLimit)
	}
	if d := LineRoundTrip(lineTripChunks - 1); d != 0 {
		t.Errorf("LineRoundTrip(%d) = %v, want 0: fewer rounds than chunks", lineTripChunks-1, d)
	}
	runtime.GOMAXPROCS(1)
	if d := LineRoundTrip(LineTripRounds); d != 0 {
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
