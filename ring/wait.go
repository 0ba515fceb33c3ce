package ring

// How readers wait. Blocking parks a reader on a one-slot channel of its own,
// after pushing the reader onto the ring's stack of sleepers (a lock-free
// Treiber stack through Reader.next). The writer, after storing the cursor,
// loads the stack's head; when it is not nil it takes the whole stack with one
// swap and sends each reader a token. No lock is taken and nothing is
// allocated on either side:
//
//	writer: store cursor; load sleepers         (if not nil: swap in nil, wake each)
//	reader: push itself (or find itself queued); load cursor (sleep only if still behind)
//
// Sequential consistency makes the pair free of lost wake-ups: either the
// writer's swap takes a stack that holds the reader, or the reader's check
// sees the new cursor. A reader stays queued until a writer pops it (queued
// guards against a second push, which would corrupt next): a reader that
// stopped waiting (ctx done, a value arrived) is popped and woken by a later
// publish, harmlessly. Tokens left in a reader's channel only cause a
// spurious return, after which the reader looks again.

import (
	"context"
	"fmt"
	"runtime"
)

// WaitStrategy is how a reader waits for the writer.
type WaitStrategy uint8

const (
	// Blocking parks the reader: no CPU while idle, woken by the writer within
	// microseconds. The default, and the right choice whenever goroutines may
	// outnumber cores.
	Blocking WaitStrategy = iota
	// Yielding polls the cursor and calls runtime.Gosched between polls:
	// lower latency than Blocking, but it uses a core while idle.
	Yielding
	// BusySpin polls the cursor without yielding: the lowest latency, for a
	// reader that owns a core. With more spinning readers than cores it
	// collapses; never use it on a shared or small machine.
	BusySpin
)

func (ws WaitStrategy) valid() bool { return ws <= BusySpin }

func (ws WaitStrategy) String() string {
	switch ws {
	case Blocking:
		return "blocking"
	case Yielding:
		return "yielding"
	case BusySpin:
		return "busy-spin"
	}
	return fmt.Sprintf("WaitStrategy(%d)", uint8(ws))
}

// ParseWaitStrategy returns the strategy named by String.
func ParseWaitStrategy(s string) (WaitStrategy, error) {
	for ws := Blocking; ws <= BusySpin; ws++ {
		if ws.String() == s {
			return ws, nil
		}
	}
	return 0, fmt.Errorf("ring: unknown wait strategy %q (want blocking, yielding or busy-spin)", s)
}

// waitFor returns when seq may be published, the ring or reader is closed, or
// ctx is done (then with ctx.Err()). Spurious returns are allowed: the caller
// looks again.
func (rd *Reader[T]) waitFor(ctx context.Context, seq uint64) error {
	if rd.wait == Blocking {
		return rd.park(ctx, seq)
	}
	r := rd.ring
	done := ctx.Done()
	for i := 0; ; i++ {
		if r.cursor.Load() >= seq || rd.closed.Load() { // a closed ring's cursor has closedBit set: always >= seq
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
	if r.cursor.Load() >= seq || rd.closed.Load() { // a closed ring's cursor has closedBit set: always >= seq
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
