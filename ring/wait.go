package ring

// How readers wait. Blocking parks the goroutine on a channel of its own and
// relies on the writer to wake it; the writer only pays for that when some
// reader is parked (sleepers != 0), so a busy ring costs one atomic load per
// publish. The handshake is free of lost wake-ups because both sides store
// then load in opposite orders under sequential consistency:
//
//	writer: store cursor; load sleepers   (wake if != 0)
//	reader: store sleepers (registered);  load cursor (sleep only if still behind)
//
// Either the writer sees the reader registered, or the reader sees the value.

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

// park sleeps until the writer (or Close) sends a token, unless seq is
// already published.
func (rd *Reader[T]) park(ctx context.Context, seq uint64) error {
	r := rd.ring
	select { // drop a stale token from an earlier wake
	case <-rd.wake:
	default:
	}
	r.waitMu.Lock()
	if !rd.parked {
		rd.parked = true
		r.waiting = append(r.waiting, rd)
		r.sleepers.Store(int32(len(r.waiting)))
	}
	r.waitMu.Unlock()
	if r.cursor.Load() >= seq || r.closed.Load() || rd.closed.Load() {
		r.unpark(rd)
		return nil
	}
	select {
	case <-rd.wake:
		return nil
	case <-ctx.Done():
		r.unpark(rd)
		return ctx.Err()
	}
}

// unpark removes rd from the parked readers, if it is there.
func (r *Ring[T]) unpark(rd *Reader[T]) {
	r.waitMu.Lock()
	defer r.waitMu.Unlock()
	if !rd.parked {
		return
	}
	rd.parked = false
	for i, x := range r.waiting {
		if x == rd {
			last := len(r.waiting) - 1
			r.waiting[i] = r.waiting[last]
			r.waiting[last] = nil
			r.waiting = r.waiting[:last]
			break
		}
	}
	r.sleepers.Store(int32(len(r.waiting)))
}

// wakeAll sends every parked reader a token and forgets them. A token is a
// non-blocking send on a one-slot channel, so the writer never waits here for
// longer than the lock, which parked readers hold only to register.
func (r *Ring[T]) wakeAll() {
	r.waitMu.Lock()
	for i, rd := range r.waiting {
		rd.parked = false
		select {
		case rd.wake <- struct{}{}:
		default:
		}
		r.waiting[i] = nil
	}
	r.waiting = r.waiting[:0]
	r.sleepers.Store(0)
	r.waitMu.Unlock()
}
