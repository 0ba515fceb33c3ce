package bench

import (
	"runtime"
	"testing"
	"time"
)

// twoProcs runs t with GOMAXPROCS 2 (the machine probes need two
// processors), or skips it on one CPU.
func twoProcs(t *testing.T) {
	t.Helper()
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: the probe needs two")
	}
	prev := runtime.GOMAXPROCS(2)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
}

// The probe's limit is what keeps a loaded machine from stalling a run, so
// these tests give it room (the race detector and other test binaries share
// the cores) except where they test the limit itself.
func TestLineRoundTrip(t *testing.T) {
	twoProcs(t)
	if d := lineRoundTrip(4*lineTripChunks, time.Minute); d <= 0 {
		t.Fatalf("lineRoundTrip(%d, 1m) = %v, want a positive round trip", 4*lineTripChunks, d)
	}
	if d := lineRoundTrip(lineTripChunks-1, time.Minute); d != 0 {
		t.Errorf("lineRoundTrip(%d, 1m) = %v, want 0: fewer rounds than chunks", lineTripChunks-1, d)
	}
	if d := lineRoundTrip(LineTripRounds, time.Nanosecond); d != 0 {
		t.Errorf("lineRoundTrip with a limit of 1ns = %v, want 0: out of time", d)
	}
	runtime.GOMAXPROCS(1)
	if d := lineRoundTrip(4*lineTripChunks, time.Minute); d != 0 {
		t.Errorf("with GOMAXPROCS 1: lineRoundTrip = %v, want 0 (the two goroutines would take turns)", d)
	}
}

func TestFanoutResultsCarryTheLineRoundTrip(t *testing.T) {
	res := runOrFail(t, Scenario{Strategy: "ring-adaptive", Readers: 1, Batch: 1, Payload: 64, Consumers: AllFast}, 1000)
	if res.LineTrip < 0 || res.LineTrip >= lineTripLimit {
		t.Errorf("LineTrip = %v, want 0 (not measured) or a round trip under %v", res.LineTrip, lineTripLimit)
	}
	for _, m := range res.Metrics() {
		if m.Unit == UnitLineTrip {
			if m.Value != float64(res.LineTrip.Nanoseconds()) {
				t.Errorf("%s = %v, want LineTrip in ns (%d)", UnitLineTrip, m.Value, res.LineTrip.Nanoseconds())
			}
			return
		}
	}
	t.Errorf("Metrics() lacks %s", UnitLineTrip)
}
