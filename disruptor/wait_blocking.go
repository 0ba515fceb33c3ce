package disruptor

// The blocking wait strategy.
//
// A waiter checks its condition, and if it must wait, parks on a sync.Cond.
// A signaller (a producer after publishing, a handler after advancing its
// sequence, Shutdown after alerting) wakes it. LMAX's BlockingWaitStrategy
// blocks only on the producers' cursor and busy-spins on the sequences of
// upstream handlers, so in a pipeline the downstream handlers burn a core
// while the upstream one is busy (LMAX #219, Disruptor-net #35). Here every
// waiting place — each handler and the producers' capacity check — has its
// own Waiter, and whoever advances a sequence signals exactly the Waiters
// whose conditions read it, so nothing spins: not dependent handlers, not
// producers facing a full ring.
//
// Invariants:
//   B1. parked is true whenever a goroutine is, or is about to be, parked in
//       cond.Wait. A waiter stores parked = true while holding mu, then
//       re-checks its condition, then calls cond.Wait (which releases mu
//       only once the goroutine is queued).
//   B2. A signaller stores its sequence (or the alert) first, then loads
//       parked. Both sides are sequentially consistent atomics, so in the
//       total order either the waiter's re-check comes after the store (it
//       sees the new value and does not park) or the signaller's load comes
//       after parked = true (it sees true). This is the Dekker handshake
//       that rules out lost wake-ups (W2).
//   B3. parked is cleared only by a signaller holding mu, right before
//       cond.Broadcast. Holding mu means every goroutine that stored
//       parked = true is already queued in cond.Wait, so the broadcast
//       wakes all of them, and each stores parked = true again before it
//       re-checks and parks again (B1). So clearing never hides a parked
//       goroutine from a later signaller.
//   B4. While no goroutine parks, Signal is one atomic load of a line that
//       only parking goroutines write, so publishing stays cheap (W3).
//   B5. Spins re-checks (with runtime.Gosched between them) come before the
//       first park when Spins > 0; that only shortens wake-ups when entries
//       arrive within microseconds and never costs CPU while idle.

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Blocking parks a waiting goroutine on a condition variable until the
// sequence it waits for moves. It is the default: no CPU while idle, and the
// publish path pays one atomic load per waiting place while no one is parked.
// A wake-up costs a few microseconds (a goroutine hand-off through the
// scheduler), which batching absorbs under load.
type Blocking struct {
	// Spins is how many times a waiter re-checks, yielding the processor in
	// between, before it parks: 0 means none.
	Spins int
}

// NewWaiter implements WaitStrategy.
func (b Blocking) NewWaiter() Waiter {
	w := &blockingWaiter{spins: max(b.Spins, 0)}
	w.cond.L = &w.mu
	return w
}

type blockingWaiter struct {
	_      [cacheLinePad]byte
	parked atomic.Bool // B1–B4; read on every publish, written when parking
	_      [cacheLinePad - 4]byte
	mu     sync.Mutex
	cond   sync.Cond
	spins  int
}

func (w *blockingWaiter) WaitFor(seq int64, c Condition) int64 {
	for i := 0; i < w.spins; i++ {
		if a := c.Available(); a >= seq || c.Alerted() {
			return a
		}
		runtime.Gosched()
	}
	if a := c.Available(); a >= seq || c.Alerted() {
		return a
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		w.parked.Store(true) // B1: before the re-check
		if a := c.Available(); a >= seq || c.Alerted() {
			return a
		}
		w.cond.Wait()
	}
}

func (w *blockingWaiter) Signal() {
	if !w.parked.Load() { // B4
		return
	}
	w.mu.Lock()
	w.parked.Store(false) // B3
	w.cond.Broadcast()
	w.mu.Unlock()
}
