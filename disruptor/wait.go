package disruptor

// Wait strategies.
//
// Two kinds of goroutine wait in a disruptor: a handler waits for entries
// (the cursor, or the sequences of the handlers it depends on), and a
// producer waits for space (the sequences of the handlers at the end of the
// graph). Both wait through a Waiter, one per waiting place, made by the
// configured WaitStrategy.
//
// Invariants every Waiter must keep:
//   W1. WaitFor returns only when c.Available() >= seq or c.Alerted() was
//       observed true, and it returns the last value of c.Available() it
//       observed; the caller re-checks, so an early return is a wasted loop,
//       never a correctness problem.
//   W2. No lost wake-ups: whoever advances a sequence that a condition reads,
//       or alerts it, stores first and calls Signal after. A Waiter that
//       parks must be woken by any Signal that follows a store its last
//       check of the condition did not see.
//   W3. Signal is cheap when nobody is parked (it is on the publish path),
//       and safe to call from any number of goroutines, concurrently with
//       WaitFor. Several goroutines may wait on one Waiter at once (all the
//       producers of a multi-producer disruptor share one).
//
// The strategies trade CPU for wake-up latency (figures from this package's
// benchmarks are in docs/disruptor.md):
//
//	BusySpin   lowest latency; one core per waiting goroutine, always. With
//	           more waiting goroutines than cores it collapses: a spinning
//	           goroutine keeps its P until the scheduler preempts it (10 ms).
//	Yielding   spins, then calls runtime.Gosched between checks: near-spin
//	           latency and it lets other goroutines run, but an idle waiter
//	           still burns a core.
//	Sleeping   spins, yields, then sleeps with exponential back-off: little
//	           CPU when idle, but a wake-up can take up to MaxSleep.
//	Blocking   (default) checks, then parks on a condition variable; Signal
//	           wakes it. No CPU while idle, wake-up in microseconds, and
//	           publishing costs one atomic load per waiter while nobody parks.

import (
	"runtime"
	"time"
)

// A Condition is what a Waiter waits for. The disruptor implements it; a
// custom WaitStrategy only calls it.
type Condition interface {
	// Available returns the highest sequence the waiter may currently use:
	// the last entry it may process, or the last sequence a producer may
	// claim.
	Available() int64
	// Alerted reports whether the waiter must stop waiting (shutdown).
	Alerted() bool
}

// A Waiter is one place where goroutines wait; see WaitStrategy.
type Waiter interface {
	// WaitFor waits until c.Available() >= seq or c.Alerted(), and returns
	// the last value of c.Available() it observed.
	WaitFor(seq int64, c Condition) int64
	// Signal tells waiting goroutines that a sequence they depend on moved
	// or that they were alerted. It must be cheap when no one waits.
	Signal()
}

// A WaitStrategy makes the Waiters of one disruptor: one for every handler
// and one shared by the producers. Built in: Blocking (the default),
// Sleeping, Yielding and BusySpin.
type WaitStrategy interface {
	NewWaiter() Waiter
}

// BusySpin re-checks the condition in a tight loop. It has the lowest
// latency and uses a whole core per waiting goroutine, idle or not; use it
// only when every handler and producer has a core of its own (GOMAXPROCS >
// goroutines). It is never a good choice on a shared or small machine.
type BusySpin struct{}

// NewWaiter implements WaitStrategy.
func (BusySpin) NewWaiter() Waiter { return busySpinWaiter{} }

type busySpinWaiter struct{}

func (busySpinWaiter) WaitFor(seq int64, c Condition) int64 {
	for {
		if a := c.Available(); a >= seq || c.Alerted() {
			return a
		}
	}
}

func (busySpinWaiter) Signal() {}

// Yielding re-checks the condition Spins times, then calls runtime.Gosched
// between checks. Latency is close to BusySpin and other goroutines still
// get to run, but an idle waiter burns a core.
type Yielding struct {
	// Spins is the number of checks before the first yield: 0 means 100,
	// a negative value none.
	Spins int
}

// NewWaiter implements WaitStrategy.
func (y Yielding) NewWaiter() Waiter {
	return yieldingWaiter{spins: orDefault(y.Spins, 100)}
}

type yieldingWaiter struct{ spins int }

func (w yieldingWaiter) WaitFor(seq int64, c Condition) int64 {
	for i := 0; ; i++ {
		if a := c.Available(); a >= seq || c.Alerted() {
			return a
		}
		if i >= w.spins {
			runtime.Gosched()
		}
	}
}

func (yieldingWaiter) Signal() {}

// Sleeping re-checks the condition Spins times, then yields Yields times,
// then sleeps between checks, starting with Sleep and doubling up to
// MaxSleep. It is LMAX's SleepingWaitStrategy with back-off: little CPU when
// idle, but the first entry after a quiet spell may wait up to MaxSleep.
type Sleeping struct {
	Spins    int           // 0 means 100, negative none
	Yields   int           // 0 means 100, negative none
	Sleep    time.Duration // first sleep; 0 means 50µs
	MaxSleep time.Duration // 0 means 1ms
}

// NewWaiter implements WaitStrategy.
func (s Sleeping) NewWaiter() Waiter {
	w := sleepingWaiter{
		spins:    orDefault(s.Spins, 100),
		yields:   orDefault(s.Yields, 100),
		sleep:    s.Sleep,
		maxSleep: s.MaxSleep,
	}
	if w.sleep <= 0 {
		w.sleep = 50 * time.Microsecond
	}
	if w.maxSleep <= 0 {
		w.maxSleep = time.Millisecond
	}
	if w.maxSleep < w.sleep {
		w.maxSleep = w.sleep
	}
	return w
}

type sleepingWaiter struct {
	spins, yields   int
	sleep, maxSleep time.Duration
}

func (w sleepingWaiter) WaitFor(seq int64, c Condition) int64 {
	d := w.sleep
	for i := 0; ; i++ {
		if a := c.Available(); a >= seq || c.Alerted() {
			return a
		}
		switch {
		case i < w.spins:
		case i < w.spins+w.yields:
			runtime.Gosched()
		default:
			time.Sleep(d)
			if d < w.maxSleep {
				d = min(2*d, w.maxSleep)
			}
		}
	}
}

func (sleepingWaiter) Signal() {}

func orDefault(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}
