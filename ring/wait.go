package ring

// How readers wait. Blocking parks the goroutine on the ring's current
// "generation" channel; the writer closes that channel to wake every parked
// reader at once. No lock is taken on either side:
//
//	writer: store cursor; load notify      (if a channel is there: swap in nil, close it)
//	reader: load or install notify's channel; load cursor (sleep only if still behind)
//
// Sequential consistency makes the pair free of lost wake-ups: either the
// writer sees the reader's channel (and closes it), or the reader sees the
// new cursor. A reader that picks up a channel the writer has just closed
// wakes at once and looks again. The writer pays one atomic load per publish
// while nobody waits, and never allocates: the parked reader that finds no
// channel makes the next one (one allocation per wake-up of all readers).

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
		if r.cursor.Load() >= seq || r.closed.Load() || rd.closed.Load() {
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
	ch := r.notify.Load()
	if ch == nil {
		fresh := make(chan struct{})
		if r.notify.CompareAndSwap(nil, &fresh) {
			ch = &fresh
		} else if ch = r.notify.Load(); ch == nil {
			return nil // the writer woke everyone in between: look again
		}
	}
	if r.cursor.Load() >= seq || r.closed.Load() || rd.closed.Load() {
		return nil
	}
	select {
	case <-*ch:
		return nil
	case <-rd.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wakeAll wakes every parked reader by closing the current generation
// channel. Readers that park afterwards install a new one.
func (r *Ring[T]) wakeAll() {
	if ch := r.notify.Swap(nil); ch != nil {
		close(*ch)
	}
}
