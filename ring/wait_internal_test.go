package ring

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// wakeCost publishes n values spaced by gap (busy-waiting, so the spacing
// does not depend on the timer's resolution) to one reader using ws, and
// returns how many publishes found a parked reader to wake (P2: the writer's
// only wake-up cost).
func wakeCost(t *testing.T, ws WaitStrategy, n int, gap time.Duration) int {
	r, err := New[int](1024, WithWaitStrategy(ws))
	if err != nil {
		t.Fatal(err)
	}
	rd := r.Subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rd.Close()
		for {
			if _, err := rd.Next(context.Background()); err == ErrClosed {
				return
			}
		}
	}()
	wakes := 0
	for i := range n {
		for start := time.Now(); time.Since(start) < gap; {
			runtime.Gosched() // as a paced writer would: a reader may share its core
		}
		if r.sleepers.Load() != nil {
			wakes++
		}
		r.Publish(i)
	}
	r.Close()
	<-done
	return wakes
}

// A reader that keeps up with values microseconds apart never parks under
// Adaptive, so the writer pays no wake-ups; under Blocking it parks after
// nearly every value (the contrast shows the measure can fail).
func TestAdaptiveBusyReaderDoesNotPark(t *testing.T) {
	const n = 5000
	const gap = time.Microsecond // well inside spinChecks + yieldChecks polls
	adaptive := wakeCost(t, Adaptive, n, gap)
	blocking := wakeCost(t, Blocking, n, gap)
	t.Logf("publishes %v apart that woke a reader: adaptive %d, blocking %d of %d", gap, adaptive, blocking, n)
	// A loaded machine may deschedule the reader's thread; allow a few
	// parks, far fewer than Blocking's.
	if adaptive > n/20 {
		t.Errorf("adaptive: %d of %d publishes woke a parked reader, want at most %d", adaptive, n, n/20)
	}
	if blocking < n/5 {
		t.Errorf("blocking: only %d of %d publishes woke a parked reader; the measure is broken", blocking, n)
	}
}

// Without values an Adaptive reader parks (and then uses no
// CPU: TestIdleReadersBurnNoCPU), and the next publish wakes it.
func TestAdaptiveIdleReaderParksAndWakes(t *testing.T) {
	r, err := New[int](8)
	if err != nil {
		t.Fatal(err)
	}
	rd := r.Subscribe()
	got := make(chan int)
	go func() {
		defer rd.Close()
		for {
			v, err := rd.Next(context.Background())
			if err == ErrClosed {
				close(got)
				return
			}
			got <- v
		}
	}()
	for r.sleepers.Load() == nil { // parks after its polls and yields
		time.Sleep(time.Millisecond) // polling a condition, not standing in for one
	}
	r.Publish(7)
	if v := <-got; v != 7 {
		t.Fatalf("got %d, want 7", v)
	}
	r.Close()
	if _, ok := <-got; ok {
		t.Fatal("value after Close")
	}
}
