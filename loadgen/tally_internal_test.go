package loadgen

import (
	"testing"
	"time"
)

// TestConnTallyPeak: the peak is the most connections open at once, not the
// number ever opened.
func TestConnTallyPeak(t *testing.T) {
	c := newConnTally()
	c.opened(time.Millisecond)
	c.opened(time.Millisecond)
	c.closed()
	c.opened(time.Millisecond)
	c.closed()
	c.closed()
	if open, peak := c.open.Load(), c.peak.Load(); open != 0 || peak != 2 {
		t.Fatalf("open %d, peak %d; want 0, 2", open, peak)
	}
	if n := c.latency().Count; n != 3 {
		t.Fatalf("%d connect latencies, want 3", n)
	}
}
