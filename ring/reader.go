package ring

// Invariants of a Reader (see ring.go for the protocol with the writer).
//
//   - pos is the next sequence the reader returns. Only the owning goroutine
//     reads or writes it; every value returned has a sequence < pos.
//   - state mirrors pos for other goroutines, with busyBit set while the
//     reader copies out of slots (R1). It is the only word of a Reader that
//     the writer reads, and only when it reclaims boxes.
//   - After a lag, pos jumps forward by exactly LagError.Missed, so over a
//     reader's life: delivered + sum(Missed) == Position() - first position.
//   - closed is set once, by Close. A read that announced busy and then finds
//     closed unset completes before Close removes the reader from the writer's
//     list (Close waits for the busy bit to clear), so a closing reader never
//     reads a box the writer has reclaimed.

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
	ring   *Ring[T]
	pos    uint64
	wait   WaitStrategy
	parked bool // in ring.waiting; guarded by ring.waitMu
	state  atomic.Uint64
	closed atomic.Bool
	wake   chan struct{} // capacity 1: a token means "look again"

	// Readers are allocated one by one; the padding gives each its own pair of
	// cache lines, so that readers storing their state never share a line.
	_ [128 - 48]byte
}

// The padding above assumes this layout; TestReaderSize checks it.
var _ [128]byte = [unsafe.Sizeof(Reader[struct{}]{})]byte{}

// Next returns the next value, waiting for one by the reader's wait strategy.
// It returns a *LagError (ErrLagged) when the reader was overrun, after which
// the next call returns the oldest value still held; ErrClosed once the ring
// or the reader is closed and drained; ctx.Err() when ctx is done first.
func (rd *Reader[T]) Next(ctx context.Context) (T, error) {
	var buf [1]T
	for {
		n, err := rd.read(buf[:])
		if n == 1 || err != ErrEmpty {
			return buf[0], err
		}
		if err := rd.waitFor(ctx, rd.pos); err != nil {
			return buf[0], err
		}
	}
}

// TryNext returns the next value if one is ready, and ErrEmpty otherwise. Its
// other errors are those of Next.
func (rd *Reader[T]) TryNext() (T, error) {
	var buf [1]T
	_, err := rd.read(buf[:])
	return buf[0], err
}

// NextBatch waits until at least one value is ready, then fills dst with as
// many ready values as fit, in order, and returns how many. One cursor load
// serves the whole batch. Errors are those of Next; a batch that reaches a lag
// returns the values before it and reports the lag on the following call.
func (rd *Reader[T]) NextBatch(ctx context.Context, dst []T) (int, error) {
	for {
		n, err := rd.read(dst)
		if n > 0 || err != ErrEmpty {
			return n, err
		}
		if err := rd.waitFor(ctx, rd.pos); err != nil {
			return 0, err
		}
	}
}

// TryNextBatch is NextBatch without the wait: ErrEmpty when nothing is ready.
func (rd *Reader[T]) TryNextBatch(dst []T) (int, error) { return rd.read(dst) }

// Position returns the sequence of the next value the reader will return.
// After a read of n values, their sequences were Position()-n .. Position()-1.
func (rd *Reader[T]) Position() uint64 { return rd.pos }

// Lag returns how many values were published that the reader has not yet
// read; more than the ring's Cap means the reader has been overrun.
func (rd *Reader[T]) Lag() uint64 {
	return lag(rd.ring.cursor.Load(), rd.state.Load()&^busyBit)
}

func lag(cursor, pos uint64) uint64 {
	if cursor+1 <= pos {
		return 0
	}
	return cursor + 1 - pos
}

// Close releases the reader: the writer stops considering it and a Next
// blocked in another goroutine returns ErrClosed. Close is idempotent.
func (rd *Reader[T]) Close() {
	if rd.closed.Swap(true) {
		return
	}
	select {
	case rd.wake <- struct{}{}:
	default:
	}
	// A read that announced busy before it could see closed finishes its
	// copy before the writer may forget this reader (see the invariants).
	for rd.state.Load()&busyBit != 0 {
		runtime.Gosched()
	}
	rd.ring.removeReader(rd)
	rd.ring.unpark(rd)
}

// read copies up to len(dst) ready values into dst.
func (rd *Reader[T]) read(dst []T) (int, error) {
	r := rd.ring
	p := rd.pos
	c := r.cursor.Load()
	if p > c {
		if rd.closed.Load() {
			return 0, ErrClosed
		}
		if !r.closed.Load() {
			return 0, ErrEmpty
		}
		// Closed: a Publish racing with Close may still have landed.
		if c = r.cursor.Load(); p > c {
			return 0, ErrClosed
		}
	}
	if c-p >= r.capacity {
		return 0, rd.lagged(p, c)
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
	var i uint64
	var seen uint64
	for ; i < n; i++ {
		b := r.slots[(p+i)&r.mask].Load()
		if b.seq != p+i { // R2: lapped by the writer
			seen = b.seq
			break
		}
		dst[i] = b.val
	}
	rd.pos = p + i
	rd.state.Store(rd.pos)
	if i == 0 {
		return 0, rd.lagged(p, max(seen, r.cursor.Load()))
	}
	return int(i), nil
}

// lagged moves the reader past what the writer overwrote. seen is a sequence
// the writer is known to have written; every sequence <= seen-cap is gone.
func (rd *Reader[T]) lagged(p, seen uint64) error {
	resume := seen - rd.ring.capacity + 1
	rd.pos = resume
	rd.state.Store(resume)
	return &LagError{Missed: resume - p, Resume: resume}
}
