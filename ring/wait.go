package ring

// How readers wait.
//
// Adaptive (the default) is LMAX's phased back-off, as in Agrona's
// BackoffIdleStrategy: a reader that finds nothing polls the cursor
// spinChecks times (a few hundred nanoseconds), then yields the processor
// (runtime.Gosched) between polls, and parks as Blocking does once it has
// yielded at least yieldChecks times and for at least yieldFor. A busy
// reader, whose next value comes within microseconds, never parks, so the
// writer pays no wake-up for it; an idle one parks and then uses no CPU.
//
// Why both bounds. A yield costs what the scheduler makes it cost. A reader
// alone on its core yields in ~100 ns (nothing else to run), so the time
// bound keeps it polling for yieldFor: it does not park between values a few
// microseconds apart. With N readers sharing a core each yield is a trip
// through the scheduler that runs the others first, and a park and its
// wake-up are about two such trips; there the count bound parks the reader
// after two yields, whose wall time has grown with N (each took a round of
// the others), so the ski-rental bound holds: a reader that parks after
// spending what a park costs pays at most twice the better of the two. A
// time bound alone parked every reader of a crowded core after one round;
// more yields burned the CPU that the writer and the other readers need
// (docs/ring.md has the sweep). Both bounds are small, so goroutines
// outnumbering cores stay fine: a spinning reader holds its processor for at
// most spinChecks loads, and then yields.
//
// Blocking (and Adaptive's last phase) parks a reader on a one-slot channel
// of its own, after pushing the reader onto the ring's stack of sleepers (a
// lock-free Treiber stack through Reader.next). The writer, after storing the
// cursor, loads the stack's head; when it is not nil it takes the whole stack
// with one swap and sends each reader a token. No lock is taken and nothing is
// allocated on either side:
//
//	writer: commit cursor (W1, C1); load sleepers   (if not nil: swap in nil, wake each)
//	reader: push itself (or find itself queued); load cursor (sleep only if still behind)
//
// Invariants:
//   P1. No lost wake-up. Go's atomics are sequentially consistent, so in the
//       pair above either the writer's swap takes a stack that holds the
//       reader, or the reader's check sees the new cursor. Close sets
//       closedBit in the cursor word (C1 in ring.go) and then does the
//       writer's part (wakeAll), so the same argument covers it; Reader.Close
//       closes done, which the parked select watches.
//   P2. A reader is pushed at most once per park: queued guards against a
//       second push (which would corrupt next) and stays set until a writer
//       pops it. So the writer's cost is bounded by parks, not publishes:
//       while no reader is queued a publish pays one load of sleepers; each
//       park costs one later publish a swap and one token. A reader that
//       pushed itself and then found a value (it never slept) costs only a
//       token in its channel's buffer, no goroutine wake-up.
//   P3. The spin and yield phases read only the cursor and the closed flags,
//       so they need no protocol with the writer; a reader leaves them on any
//       sign of progress and looks again (spurious returns are allowed).
//   P4. Tokens left in a reader's channel only cause a spurious return, after
//       which the reader looks again.

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// WaitStrategy is how a reader waits for the writer.
type WaitStrategy uint8

const (
	// Blocking parks the reader as soon as it finds nothing: no CPU while
	// idle, but every value that arrives after it parked costs the writer a
	// goroutine wake-up, and a reader that keeps up parks after each value.
	Blocking WaitStrategy = iota
	// Yielding polls the cursor and calls runtime.Gosched between polls:
	// lower latency than Blocking, but it uses a core while idle.
	Yielding
	// BusySpin polls the cursor without yielding: the lowest latency, for a
	// reader that owns a core. With more spinning readers than cores it
	// collapses; never use it on a shared or small machine.
	BusySpin
	// Adaptive polls briefly, then yields for a few microseconds, then parks:
	// a busy reader never parks and costs the writer nothing, an idle one
	// uses no CPU. The default, and the right choice whenever goroutines may
	// outnumber cores.
	Adaptive
)

// The phases of Adaptive (measured in docs/ring.md against other bounds).
const (
	// spinChecks bounds the polls before the first yield: a few hundred
	// nanoseconds, enough to catch a writer in the middle of a burst.
	spinChecks = 64
	// yieldChecks and yieldFor bound the yield phase from below: a reader
	// parks once it has yielded at least yieldChecks times (about what one
	// park and wake-up cost on a crowded core) and for at least yieldFor (a
	// reader alone on its core: values a few microseconds apart never cost a
	// park).
	yieldChecks = 2
	yieldFor    = 5 * time.Microsecond
)

func (ws WaitStrategy) valid() bool { return ws <= Adaptive }

func (ws WaitStrategy) String() string {
	switch ws {
	case Blocking:
		return "blocking"
	case Yielding:
		return "yielding"
	case BusySpin:
		return "busy-spin"
	case Adaptive:
		return "adaptive"
	}
	return fmt.Sprintf("WaitStrategy(%d)", uint8(ws))
}

// ParseWaitStrategy returns the strategy named by String.
func ParseWaitStrategy(s string) (WaitStrategy, error) {
	for ws := Blocking; ws <= Adaptive; ws++ {
		if ws.String() == s {
			return ws, nil
		}
	}
	return 0, fmt.Errorf("ring: unknown wait strategy %q (want adaptive, blocking, yielding or busy-spin)", s)
}

// waitFor returns when seq may be published, the ring or reader is closed, or
// ctx is done (then with ctx.Err()). Spurious returns are allowed: the caller
// looks again.
func (rd *Reader[T]) waitFor(ctx context.Context, seq uint64) error {
	switch rd.wait {
	case Blocking:
		return rd.park(ctx, seq)
	case Adaptive:
		return rd.backOff(ctx, seq)
	}
	done := ctx.Done()
	for i := 0; ; i++ {
		if rd.ready(seq) {
			return nil
		}
		if i&255 == 0 && done != nil {
			select {
			case <-done:
				return ctx.Err()
			default:
			}
		}
		if rd.wait == Yielding {
			runtime.Gosched()
		}
	}
}

// ready reports whether a wait for seq is over: seq is published, or the ring
// (whose cursor word then has closedBit set, so compares above any seq) or
// the reader is closed.
func (rd *Reader[T]) ready(seq uint64) bool {
	return rd.ring.cursor.Load() >= seq || rd.closed.Load()
}

// backOff is Adaptive: spin, yield, then park (P3).
func (rd *Reader[T]) backOff(ctx context.Context, seq uint64) error {
	for range spinChecks {
		if rd.ready(seq) {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	for i := 1; ; i++ {
		runtime.Gosched()
		if rd.ready(seq) {
			return nil
		}
		if i >= yieldChecks && time.Since(start) >= yieldFor {
			return rd.park(ctx, seq)
		}
	}
}

// park sleeps until the writer publishes past seq-1, the ring or the reader
// is closed, or ctx is done.
func (rd *Reader[T]) park(ctx context.Context, seq uint64) error {
	r := rd.ring
	select { // a token from an earlier wake-up; the check below covers it
	case <-rd.wake:
	default:
	}
	if !rd.queued.Swap(true) {
		for {
			head := r.sleepers.Load()
			rd.next = head
			if r.sleepers.CompareAndSwap(head, rd) {
				break
			}
		}
	}
	if rd.ready(seq) { // P1
		return nil
	}
	select {
	case <-rd.wake:
		return nil
	case <-rd.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wakeAll takes every queued reader off the stack and sends each a token. A
// send never blocks: the channel has one slot, and one token is enough.
func (r *Ring[T]) wakeAll() {
	for rd := r.sleepers.Swap(nil); rd != nil; {
		next := rd.next // before queued is cleared: then rd may push itself again
		rd.next = nil
		rd.queued.Store(false)
		select {
		case rd.wake <- struct{}{}:
		default:
		}
		rd = next
	}
}
