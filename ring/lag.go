package ring

// Lags, and where an overrun reader resumes.
//
// A reader that finds its next value overwritten (R2 in ring.go) has lost
// every value from its position to the oldest one held, and by default
// resumes there, as tokio's broadcast does: it loses the fewest values. But
// the oldest page is the one the writer retires next, so under a writer that
// stays faster than the reader it is lapped again at once, and again (lag
// thrash). LMAX's consumers never face this (the producer waits for them); a
// reader of a ring that never waits can make room itself: with
// WithLagHeadroom(n) it skips n more values, leaving that many between itself
// and the writer's overwrite point. Measured (docs/ring.md), headroom of a
// page helped flat out in some runs and not in others, and cost sustained
// throughput in every run: at a rate readers can keep up with, an overrun
// comes from a stall, and headroom adds n values to every such loss. So the
// default is none, and headroom is for readers that are overrun persistently.
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
// writer that keeps outrunning it does not lap it again at once; the skipped
// values are counted in LagError.Missed. The default, 0, resumes at the
// oldest value held and loses the fewest. Given to New it is the default for
// every reader of the ring; given to Subscribe it applies to that reader
// only. n above Cap() means Cap(); 64 (a page) is a good start.
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
