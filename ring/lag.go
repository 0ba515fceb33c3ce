package ring

// Lags, and where an overrun reader resumes.
//
// A reader that finds its next value overwritten (R2 in ring.go) has lost
// every value from its position to the oldest one held, and by default
// resumes there, as tokio's broadcast does: it loses the fewest values. But
// the oldest page is the one the writer retires next, so under a writer that
// stays faster than the reader it is lapped again at once, and again (lag
// thrash): each lap costs the reader a failed read and an error, so it
// delivers less than it could, and loses more. LMAX's consumers never face
// this (the producer waits for them); a reader of a ring that never waits can
// make room itself by skipping further than it must.
//
// When to skip further is decided by what the lag says. A first lag, at a
// rate the reader keeps up with, comes from a stall: skipping more would only
// add to the loss, so the reader resumes at the oldest value (or its fixed
// WithLagHeadroom). A lag that comes before the reader has read a whole ring
// since its last one is a relapse: the writer is outrunning it, and it resumes
// half a ring further on (relapseHeadroom), out of the writer's way for as
// long as the writer takes to write that half. Measured in docs/ring.md.
//
// Invariants:
//   L1. Counts stay exact: LagError.Missed is resume - p, every value from the
//       reader's position p up to resume is skipped, and none is delivered;
//       delivered + sum(Missed) == published since the reader subscribed.
//   L2. Resume is published and was held when the lag was found: it lies
//       between the oldest sequence held once the writer wrote seen and the
//       cursor loaded after that (<= cursor by W4), so the reader never passes
//       Cursor()+1 and Lag never reads 0 for a reader that has values to read.
//   L3. Headroom is at most Cap(), and a wrapped ring holds more than Cap()
//       values, so oldest+headroom <= cursor except while the writer is in
//       the middle of a batch (seen > cursor); there the resume point is
//       capped at the cursor (L2).
//   L4. A lag at a position below Reader.relapse (the last resume point plus
//       Cap()) is a relapse, and resumes with at least Cap()/2 of headroom;
//       relapse is 0 until the first lag, so a first lag is never one. L1-L3
//       hold as for any headroom.

import "fmt"

// WithLagHeadroom sets how far an overrun reader jumps: it resumes n values
// past the oldest value still held (at most at the newest value), so that a
// writer that keeps outrunning it does not lap it again at once; the skipped
// values are counted in LagError.Missed. The default, 0, resumes at the
// oldest value held and loses the fewest. Whatever n, a reader overrun again
// before it has read Cap() values since its last lag skips at least Cap()/2
// past the oldest value: the writer is outrunning it, and resuming on the
// page the writer overwrites next would only cost it another lag. Given to
// New it is the default for every reader of the ring; given to Subscribe it
// applies to that reader only. n above Cap() means Cap().
func WithLagHeadroom(n int) Option {
	if n < 0 {
		n = badHeadroom
	}
	return func(o *options) { o.headroom = n }
}

// LagError reports that a reader was overrun: the writer overwrote values
// before the reader got to them. The reader skipped Missed values in all (the
// overwritten ones and, with headroom, some still held) and continues from
// Resume, a value the ring held when the lag was found.
type LagError struct {
	Missed uint64
	Resume uint64
}

func (e *LagError) Error() string {
	return fmt.Sprintf("ring: reader lagged: missed %d values, resuming at %d", e.Missed, e.Resume)
}

// Is makes errors.Is(err, ErrLagged) true.
func (e *LagError) Is(target error) bool { return target == ErrLagged }

// relapseHeadroom is how far past the oldest value a relapsing reader
// resumes in a ring of capacity c (L4): half the ring, so that the writer
// takes as long to lap it again as to write half a ring.
func relapseHeadroom(c uint64) uint64 { return c / 2 }

// lagged moves a reader at p past the values lost once the writer had
// written seen (L1-L3).
func (rd *Reader[T]) lagged(p, seen uint64) error {
	r := rd.ring
	oldest := r.oldest(seen)
	headroom := uint64(rd.headroom)
	if p < rd.relapse { // L4
		headroom = max(headroom, relapseHeadroom(r.capacity))
	}
	resume := max(oldest, min(oldest+headroom, r.Cursor()))
	rd.relapse = resume + r.capacity
	rd.pos = resume
	rd.state.Store(resume)
	return &LagError{Missed: resume - p, Resume: resume}
}
