package ring

// Lags, and where an overrun reader resumes.
//
// A reader that finds its next value overwritten (R2 in ring.go) has lost
// every value from its position to the oldest one held. Resuming exactly
// there, as tokio's broadcast does, puts it at the one spot the writer
// overwrites next: under a writer faster than the reader it is lapped again
// at once, and again, delivering a fraction of what it could (lag thrash).
// LMAX's consumers never face this (the producer waits for them); a reader of
// a ring that never waits must make room itself, so it skips headroom more
// values, leaving that many between itself and the writer's overwrite point.
// The writer retires a whole page at a time, and the oldest page is the next
// to go, so the default headroom is one page (P = 64 values; half the ring
// when that is smaller): the least that leaves the reader a page of room.
// More headroom skips more values per lag without making a slower reader
// any faster (measured in docs/ring.md).
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

import "fmt"

// WithLagHeadroom sets how far an overrun reader jumps: it resumes n values
// past the oldest value still held (at most at the newest value), so that a
// writer faster than the reader does not lap it again at once. n = 0 resumes
// at the oldest value held, losing the fewest values now but, under a
// sustained overrun, more in all. Given to New it is the default for every
// reader of the ring; given to Subscribe it applies to that reader only. The
// default is 64 (one page), or Cap()/2 if smaller; n above Cap() means Cap().
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

// lagged moves a reader at p past the values lost once the writer had
// written seen (L1-L3).
func (rd *Reader[T]) lagged(p, seen uint64) error {
	r := rd.ring
	oldest := r.oldest(seen)
	resume := max(oldest, min(oldest+uint64(rd.headroom), r.Cursor()))
	rd.pos = resume
	rd.state.Store(resume)
	return &LagError{Missed: resume - p, Resume: resume}
}
