package transport

import (
	"io"
	"sync/atomic"
	"testing"
	"testing/quick"
	"time"
)

// TestNextWindowConverges models A streams that each have events at r per
// second: paced by a window w they write A·min(r, 1/w) times a second. From
// no window, the automatic window must bring the rate within the budget (or
// reach its ceiling) and then hold still.
func TestNextWindowConverges(t *testing.T) {
	f := func(a16, r16 uint16, b8 uint8) bool {
		active := float64(a16%20_000) + 1
		r := float64(r16%10_000) + 1
		budget := 1000 * (float64(b8) + 1)
		rate := func(w time.Duration) float64 {
			if w <= 0 {
				return active * r
			}
			return active * min(r, float64(time.Second)/float64(w))
		}
		var w time.Duration
		var seen []time.Duration
		for range 400 { // a window that does not bind grows by rate/budget a tick: slowly when that is near 1
			w = nextWindow(w, rate(w), active, budget)
			if w < 0 || w > maxAutoWindow {
				t.Logf("window %v out of [0, %v]", w, maxAutoWindow)
				return false
			}
			seen = append(seen, w)
		}
		if w < maxAutoWindow && rate(w) > budget*1.01 {
			t.Logf("A=%v r=%v budget=%v: settled at %v with %v writes/s", active, r, budget, w, rate(w))
			return false
		}
		for _, x := range seen[390:] {
			if x != w {
				t.Logf("A=%v r=%v budget=%v: still moving: %v", active, r, budget, seen[390:])
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Fatal(err)
	}
}

func TestPacerModes(t *testing.T) {
	for _, tc := range []struct {
		window time.Duration
		want   time.Duration // after a tick far above the budget
	}{
		{NoBatchWindow, 0},
		{30 * time.Millisecond, 30 * time.Millisecond},
		{0, 10 * time.Millisecond}, // one active stream, 100 writes/s: one write per 10 ms
	} {
		p := newPacer(tc.window, 100)
		var tick uint64
		for range 1_000_000 {
			p.wrote(&tick)
		}
		p.adjust(p.last.Add(paceTick))
		if got := p.current(); got != tc.want {
			t.Errorf("window %v: after 10M writes/s by one stream the window is %v; want %v", tc.window, got, tc.want)
		}
	}
}

// TestAutoBatchWindow runs the automatic window for real: clients that read
// as fast as they can and a publisher flat out push the writes far over a
// small budget, so the window must open; once publishing stops it must close.
func TestAutoBatchWindow(t *testing.T) {
	ts := startServer(t, Config{WriteBudget: 200})
	const clients = 10
	for range clients {
		c := dial(t, ts.addr, eventsPath("a"), dialOpt{})
		go io.Copy(io.Discard, c.br) // ends when the test closes the connection
	}
	waitFor(t, "streams", 5*time.Second, func() bool { return ts.nStreams.Load() == clients })
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			ts.publish(Event{Topic: "a", Data: payload128})
		}
	}()
	// 10 streams paced by w write 10/w times a second: the budget of 200
	// calls for 50 ms.
	waitFor(t, "the window to open", 10*time.Second, func() bool { return ts.metric(mBatchWindow) >= 0.025 })
	stop.Store(true)
	<-done
	waitFor(t, "the window to close", 10*time.Second, func() bool { return ts.metric(mBatchWindow) == 0 })
}
