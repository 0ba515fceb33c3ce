package disruptor

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// condStrategy is a custom WaitStrategy as a user might write one: a plain
// condition variable whose Signal always broadcasts. It exercises the path
// for Waiters the disruptor does not know (ctlCustom: signalled on every
// publish and every handler advance).
type condStrategy struct{}

func (condStrategy) NewWaiter() Waiter {
	w := &condWaiter{}
	w.cond.L = &w.mu
	return w
}

type condWaiter struct {
	mu   sync.Mutex
	cond sync.Cond
}

func (w *condWaiter) WaitFor(seq int64, c Condition) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		// Under mu, and Signal takes mu after the signaller's store, so a
		// store this check misses is followed by a Broadcast it waits for.
		if a := c.Available(); a >= seq || c.Alerted() {
			return a
		}
		w.cond.Wait()
	}
}

func (w *condWaiter) Signal() {
	w.mu.Lock()
	w.cond.Broadcast()
	w.mu.Unlock()
}

// TestWaitStrategies runs every strategy through the topology/ordering
// checks. Spinning strategies get a graph with no more goroutines than
// cores need to make progress in reasonable time under the race detector.
func TestWaitStrategies(t *testing.T) {
	for _, tc := range []struct {
		wait      WaitStrategy
		groups    []groupSpec
		pt        ProducerType
		producers int
		events    int
	}{
		{Blocking{}, twoPipes, MultiProducer, 3, 3000},
		{Blocking{Spins: 20}, diamond, MultiProducer, 2, 3000},
		{condStrategy{}, diamond, MultiProducer, 2, 3000},
		{condStrategy{}, pipeline, SingleProducer, 1, 3000},
		{Sleeping{Spins: -1, Yields: 10, Sleep: time.Microsecond, MaxSleep: 50 * time.Microsecond}, diamond, MultiProducer, 2, 2000},
		{Sleeping{}, unicast, SingleProducer, 1, 2000},
		{Yielding{}, diamond, SingleProducer, 1, 3000},
		{BusySpin{}, unicast, SingleProducer, 1, 3000},
	} {
		t.Run(fmt.Sprintf("%T%+v/%v", tc.wait, tc.wait, tc.pt), func(t *testing.T) {
			scenario{sizeLog: 5, producer: tc.pt, producers: tc.producers, wait: tc.wait,
				groups: tc.groups, events: tc.events / tc.producers, maxClaim: 4, seed: 2}.run(t)
		})
	}
}

func TestWaitStrategyDefaults(t *testing.T) {
	if w := (Sleeping{}).NewWaiter().(sleepingWaiter); w.spins != 100 || w.yields != 100 ||
		w.sleep != 50*time.Microsecond || w.maxSleep != time.Millisecond {
		t.Errorf("Sleeping{} defaults: %+v", w)
	}
	if w := (Sleeping{Spins: -1, Sleep: time.Second, MaxSleep: time.Millisecond}).NewWaiter().(sleepingWaiter); w.spins != 0 || w.maxSleep != time.Second {
		t.Errorf("Sleeping with negative spins and MaxSleep < Sleep: %+v", w)
	}
	if w := (Yielding{}).NewWaiter().(yieldingWaiter); w.spins != 100 {
		t.Errorf("Yielding{} defaults: %+v", w)
	}
	if w := (Blocking{Spins: -3}).NewWaiter().(*blockingWaiter); w.spins != 0 {
		t.Errorf("Blocking{Spins: -3}: spins %d", w.spins)
	}
}
