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
//   B6. The Waiter of a handler that reads the cursor also sets ctlParked
//       in the sequencer's ctl (Q5) after each parked = true and before its
//       re-check. A producer stores the cursor, loads ctl, and only when
//       ctlParked is set clears it and then looks at the readers' parked
//       flags. By the argument of B2, either the producer's load sees the bit
//       (and then, since the waiter stored parked first, the parked flag) or
//       the waiter's re-check sees the cursor; a waiter that sets the bit
//       after the producer cleared it re-checks after the clear, so after the
//       cursor store. Clearing the bit, like B3, keeps all later publishes on
//       the fast path until a reader parks again.
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
	ctl    *atomic.Int32 // B6; nil unless the handler reads the cursor
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
		if w.ctl != nil {
			w.ctl.Or(ctlParked) // B6
		}
		if a := c.Available(); a >= seq || c.Alerted() {
			return a
		}
		w.cond.Wait()
	}
}

func (w *blockingWaiter) Signal() {
	if w.parked.Load() { // B4
		w.wake()
	}
}

func (w *blockingWaiter) wake() {
	w.mu.Lock()
	w.parked.Store(false) // B3
	w.cond.Broadcast()
	w.mu.Unlock()
}

// signalList is the set of Waiters one goroutine signals after it advances a
// sequence (E1) or publishes (P2, M3). The built-in blocking waiters are
// called directly, so the common case is an inlined load per waiter; the
// built-in spinning waiters are left out, since their Signal does nothing.
type signalList struct {
	blocking []*blockingWaiter
	custom   []Waiter
}

func (l *signalList) add(w Waiter) {
	switch w := w.(type) {
	case *blockingWaiter:
		l.blocking = append(l.blocking, w)
	case busySpinWaiter, yieldingWaiter, sleepingWaiter:
	default:
		l.custom = append(l.custom, w)
	}
}

func (l *signalList) signal() {
	for _, w := range l.blocking {
		if w.parked.Load() {
			w.wake()
		}
	}
	for _, w := range l.custom {
		w.Signal()
	}
}
