package ring

// Invariants of a Reader (see ring.go for the protocol with the writer).
//
//   - pos is the next sequence the reader takes from the ring. Only the
//     owning goroutine reads or writes it (and avail, ahead, head); values
//     read ahead wait in ahead[head:], so Position() = pos - len(ahead[head:]).
//   - state mirrors pos for other goroutines, with busyBit set while the
//     reader copies out of pages (R1). It is the only word of a Reader that
//     the writer reads, and only when it reclaims pages.
//   - After a lag, pos jumps forward by exactly LagError.Missed (L1 in
//     lag.go), so over a reader's life:
//     delivered + sum(Missed) == Position() - first position.
//   - closed is set once, by Close. A read that announced busy and then finds
//     closed unset completes before Close removes the reader from the writer's
//     table (Close waits for the busy bit to clear), so a closing reader never
//     reads a page the writer has reclaimed.

import (
	"context"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// busyBit marks a reader's state word while it copies values out of slots.
// Sequences never reach 2^63.
const busyBit = 1 << 63

// Reader consumes a Ring's values in order, from its own position. Its read
// methods (Next, TryNext, NextBatch, TryNextBatch, Position) belong to one
// goroutine; Lag and Close may be called from any goroutine.
type Reader[T any] struct {
	ring  *Ring[T]
	pos   uint64 // next seq to take from the ring
	avail uint64 // a cursor value already loaded: seqs <= avail are published
	ahead []T    // values Next and TryNext read ahead: ahead[head:] are pending
	head  int
	wait  WaitStrategy
	// headroom is how far past the oldest value held a lag resumes (lag.go).
	headroom uint32
	state    atomic.Uint64
	closed   atomic.Bool
	done     chan struct{} // closed by Close: wakes a parked owner
	wake     chan struct{} // one slot: the writer's token after a publish
	slot     int           // index in ring.readers; guarded by ring.mu
	queued   atomic.Bool   // on ring.sleepers (wait.go)
	next     *Reader[T]    // below this reader on ring.sleepers
	waits    *waitState[T] // Adaptive's and Sleeping's memory (wait.go)
}

// Readers are allocated one by one; at 128 bytes each has its own pair of
// cache lines, so that readers storing their state never share a line. The
// build fails if the layout changes.
var _ [128]byte = [unsafe.Sizeof(Reader[struct{}]{})]byte{}

// aheadBytes bounds the read-ahead buffer of Next: up to 32 values, no more
// than about 2 KiB of them.
const aheadBytes = 2048

// Next returns the next value, waiting for one by the reader's wait strategy.
// It returns a *LagError (ErrLagged) when the reader was overrun, after which
// the next call returns the value at LagError.Resume; ErrClosed once the ring
// or the reader is closed and drained; ctx.Err() when ctx is done first.
//
// Next takes values from the ring in batches (one cursor load and one pair of
// state stores per batch) and hands them out one by one.
func (rd *Reader[T]) Next(ctx context.Context) (T, error) {
	for rd.head == len(rd.ahead) {
		err := rd.fill(true)
		if err == nil {
			break
		}
		if err == ErrEmpty {
			err = rd.waitFor(ctx, rd.pos)
		}
		if err != nil {
			var zero T
			return zero, err
		}
	}
	v := rd.ahead[rd.head]
	rd.head++
	return v, nil
}

// TryNext returns the next value if one is ready, and ErrEmpty otherwise. Its
// other errors are those of Next.
func (rd *Reader[T]) TryNext() (T, error) {
	if rd.head == len(rd.ahead) {
		if err := rd.fill(false); err != nil {
			var zero T
			return zero, err
		}
	}
	v := rd.ahead[rd.head]
	rd.head++
	return v, nil
}

// fill reads ahead into rd.ahead, paced (P7) for a reader that waits; nil
// means at least one value is pending.
func (rd *Reader[T]) fill(paced bool) error {
	if rd.ahead == nil {
		var zero T
		size := max(unsafe.Sizeof(zero), 1)
		rd.ahead = make([]T, 0, min(32, max(1, aheadBytes/size), uintptr(rd.ring.capacity)))
	}
	buf := rd.ahead[:cap(rd.ahead)]
	var n int
	var err error
	if paced {
		n, err = rd.readPaced(buf)
	} else {
		n, err = rd.read(buf)
	}
	rd.ahead, rd.head = rd.ahead[:n], 0
	return err
}

// readPaced is read for a reader that waits (Next, NextBatch): it paces its
// cursor loads (P7).
func (rd *Reader[T]) readPaced(dst []T) (int, error) {
	rd.pace()
	n, err := rd.read(dst)
	rd.paced(n, len(dst), err)
	return n, err
}

// NextBatch waits until at least one value is ready, then fills dst with as
// many ready values as fit, in order, and returns how many. One cursor load
// serves the whole batch. Errors are those of Next; a batch that reaches a lag
// returns the values before it and reports the lag on the following call.
func (rd *Reader[T]) NextBatch(ctx context.Context, dst []T) (int, error) {
	for {
		var n int
		var err error
		if rd.head < len(rd.ahead) {
			n, err = rd.TryNextBatch(dst) // what Next read ahead
		} else {
			n, err = rd.readPaced(dst)
		}
		if n > 0 || err != ErrEmpty {
			return n, err
		}
		if err := rd.waitFor(ctx, rd.pos); err != nil {
			return 0, err
		}
	}
}

// TryNextBatch is NextBatch without the wait: ErrEmpty when nothing is ready.
func (rd *Reader[T]) TryNextBatch(dst []T) (int, error) {
	if rd.head < len(rd.ahead) {
		n := copy(dst, rd.ahead[rd.head:])
		rd.head += n
		return n, nil
	}
	return rd.read(dst)
}

// Position returns the sequence of the next value the reader will return.
// After a read of n values, their sequences were Position()-n .. Position()-1.
func (rd *Reader[T]) Position() uint64 { return rd.pos - uint64(len(rd.ahead)-rd.head) }

// Lag returns how many values were published that the reader has not yet
// taken from the ring (Next takes up to 32 at a time); more than the ring's
// Cap means the reader may have been overrun.
func (rd *Reader[T]) Lag() uint64 {
	return lag(rd.ring.Cursor(), rd.state.Load()&^busyBit)
}

func lag(cursor, pos uint64) uint64 {
	if cursor+1 <= pos {
		return 0
	}
	return cursor + 1 - pos
}

// Close releases the reader: the writer stops considering it and a Next
// blocked in another goroutine returns ErrClosed. Close is idempotent. A
// closed reader still hands out what it had read ahead (Next and TryNext read
// up to 32 values at a time), then at most one *LagError if it had been
// overrun, then ErrClosed: it takes no new value from the ring.
func (rd *Reader[T]) Close() {
	if rd.closed.Swap(true) {
		return
	}
	close(rd.done)
	// A read that announced busy before it could see closed finishes its
	// copy before the writer may forget this reader (see the invariants).
	for rd.state.Load()&busyBit != 0 {
		runtime.Gosched()
	}
	rd.ring.removeReader(rd)
}

// read copies up to len(dst) ready values from the ring into dst.
func (rd *Reader[T]) read(dst []T) (int, error) {
	r := rd.ring
	p := rd.pos
	c := rd.avail
	if p > c || c-p+1 < uint64(len(dst)) { // the cached cursor may hold back the batch
		raw := r.cursor.Load()
		c = raw &^ closedBit
		if p > c {
			if rd.closed.Load() || raw&closedBit != 0 { // C1: no commit can follow
				return 0, ErrClosed
			}
			return 0, ErrEmpty
		}
		rd.avail = c
	}
	if p < r.oldest(c) {
		return 0, rd.lagged(p, max(c, r.Cursor()))
	}
	n := min(c-p+1, uint64(len(dst)))
	if n == 0 {
		return 0, nil
	}
	rd.state.Store(p | busyBit) // R1
	if rd.closed.Load() {
		rd.state.Store(p)
		return 0, ErrClosed
	}
	var i, seen uint64
	for i < n {
		idx := p + i - 1
		g := r.slots[(idx>>r.pshift)%r.npages].Load()
		if base := idx&^r.pmask + 1; g.base != base { // R2: lapped by the writer
			seen = g.base
			break
		}
		i += uint64(copy(dst[i:n], g.vals[idx&r.pmask:]))
	}
	rd.pos = p + i
	rd.state.Store(rd.pos)
	if i == 0 {
		return 0, rd.lagged(p, max(seen, r.Cursor()))
	}
	return int(i), nil
}
