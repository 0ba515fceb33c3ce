//go:build unix

package disruptor

import (
	"context"
	"testing"
	"time"

	"github.com/ringcast/ringcast/internal/cpuclock"
)

// TestBlockingCostsNoCPUWhileWaiting is the LMAX complaint list as a test:
// with the default strategy, nothing may burn CPU while it waits — not
// handlers with nothing to do, not handlers whose upstream handler is busy
// (LMAX's BlockingWaitStrategy spins on those), not a producer facing a full
// ring. The test waits until every waiting goroutine is parked, then
// measures the process's CPU time over an idle window: a spinning waiter
// would use the whole window on a core.
func TestBlockingCostsNoCPUWhileWaiting(t *testing.T) {
	for _, pt := range []ProducerType{SingleProducer, MultiProducer} {
		t.Run(pt.String(), func(t *testing.T) {
			const size = 8
			d, err := New[event](size, WithProducerType(pt))
			if err != nil {
				t.Fatal(err)
			}
			// a blocks on sequence 0; b and c are downstream of a; e is a
			// sibling of a that finishes everything.
			a := newGated(0)
			e := newGated(-1)
			b := newGated(-1)
			c := newGated(-1)
			d.HandleEventsWith(a, e).Then(b).Then(c)
			if err := d.Start(); err != nil {
				t.Fatal(err)
			}
			procs := d.procs
			allParked := func() bool {
				for _, p := range procs {
					if !parked(p.waiter) {
						return false
					}
				}
				return true
			}
			waitUntil(t, "every handler parks with nothing published", allParked)
			if used := idleCPU(t, 150*time.Millisecond); used > 30*time.Millisecond {
				t.Errorf("idle disruptor used %v of CPU in 150ms", used)
			}

			for range size {
				if err := d.Publish(func(*event) {}); err != nil {
					t.Fatal(err)
				}
			}
			blocked := make(chan error)
			go func() { blocked <- d.Publish(func(*event) {}) }()
			waitUntil(t, "a is busy, b and c wait on it, e is idle, the producer waits for space", func() bool {
				return a.reached.Load() && e.finished.Load() == size &&
					parked(procs[1].waiter) && parked(procs[2].waiter) && parked(procs[3].waiter) &&
					parked(d.seq.capacity)
			})
			if used := idleCPU(t, 150*time.Millisecond); used > 30*time.Millisecond {
				t.Errorf("waiting on a busy upstream handler and a full ring used %v of CPU in 150ms", used)
			}
			close(a.release)
			if err := <-blocked; err != nil {
				t.Fatal(err)
			}
			if err := d.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if c.finished.Load() != size+1 {
				t.Fatalf("c finished %d entries, want %d", c.finished.Load(), size+1)
			}
		})
	}
}

// idleCPU returns the CPU time the process used during a window of wall
// time. The sleep here is the measurement window, not synchronisation: the
// goroutines under test are known to be parked before it starts.
func idleCPU(t *testing.T, window time.Duration) time.Duration {
	used, err := cpuclock.Idle(window)
	if err != nil {
		t.Fatal(err)
	}
	return used
}
