package disruptor

// The Disruptor: the ring of entries, its producer API and its lifecycle.
//
// Invariants:
//   D1. entries is allocated once, in New, with size elements; it is never
//       resized or replaced, and nothing on the publish or process path
//       allocates.
//   D2. Lifecycle: new → running (Start) → closed (Shutdown) → halted (only
//       if Shutdown's context ends before the drain). Transitions happen
//       under mu; the hot paths only load state.
//   D3. Claims are refused (ErrNotStarted) before Start, so the gating list
//       is complete before the first claim: Start writes it, then stores
//       state = running, which producers load before claiming.
//   D4. done is closed when the last processor goroutine has returned.
//   D5. With MultiProducer, Publish, PublishBatch and their Try forms
//       commit what they claimed even when fill panics (the panic then
//       continues), as LMAX's translators do: a claim that is never
//       committed would stall every handler behind it forever. A single
//       producer needs no such care: its next commit publishes everything
//       claimed before, and Shutdown's target (P3) excludes the rest.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// A Disruptor is a ring of pre-allocated entries of type T and the graph of
// handlers that process them. Create one with New, add handlers with
// HandleEventsWith and Then, Start it, publish, and Shutdown.
type Disruptor[T any] struct {
	entries []T // D1
	seq     sequencer

	mu       sync.Mutex // D2; wiring and lifecycle, never the hot paths
	strategy WaitStrategy
	onError  func(*HandlerError)
	procs    []*processor[T]
	buildErr error
	running  atomic.Int32
	done     chan struct{} // D4

	errors, panics atomic.Uint64
}

// ProducerType selects the sequencer.
type ProducerType uint8

const (
	// MultiProducer (the default) lets any number of goroutines claim and
	// publish concurrently: claims are an atomic add, publication is per
	// entry in an availability buffer.
	MultiProducer ProducerType = iota
	// SingleProducer is faster (no atomic read-modify-write when claiming)
	// but only one goroutine may claim and publish, ever, or at least one
	// at a time with a happens-before edge between them.
	SingleProducer
)

func (p ProducerType) String() string {
	switch p {
	case MultiProducer:
		return "multi-producer"
	case SingleProducer:
		return "single-producer"
	}
	return fmt.Sprintf("ProducerType(%d)", uint8(p))
}

// An Option configures New.
type Option func(*options) error

type options struct {
	producer ProducerType
	wait     WaitStrategy
	onError  func(*HandlerError)
}

// WithProducerType selects the sequencer; the default is MultiProducer.
func WithProducerType(p ProducerType) Option {
	return func(o *options) error {
		if p > SingleProducer {
			return fmt.Errorf("disruptor: unknown %v", p)
		}
		o.producer = p
		return nil
	}
}

// WithWaitStrategy sets how handlers wait for entries and producers for
// space; the default is Blocking{}.
func WithWaitStrategy(ws WaitStrategy) Option {
	return func(o *options) error {
		if ws == nil {
			return errors.New("disruptor: nil WaitStrategy")
		}
		o.wait = ws
		return nil
	}
}

// WithErrorHandler sets the function told about every handler call that
// returns an error or panics. It runs on the failing handler's goroutine,
// before that handler moves on, so it must not panic, and must not wait for
// Shutdown (which waits for that goroutine) unless its context has a
// deadline. The default logs with log/slog. Stats counts failures either
// way.
func WithErrorHandler(f func(*HandlerError)) Option {
	return func(o *options) error {
		if f == nil {
			return errors.New("disruptor: nil error handler")
		}
		o.onError = f
		return nil
	}
}

// MaxSize is the largest ring New accepts.
const MaxSize = 1 << 30

// New returns a disruptor whose ring holds size entries, each a zero T. size
// must be a power of two between 1 and MaxSize, so that a sequence maps to
// its entry with a mask.
func New[T any](size int, opts ...Option) (*Disruptor[T], error) {
	if size < 1 || size > MaxSize || size&(size-1) != 0 {
		return nil, fmt.Errorf("disruptor: size %d: must be a power of two between 1 and %d", size, MaxSize)
	}
	o := options{producer: MultiProducer, wait: Blocking{}, onError: logHandlerError}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	d := &Disruptor[T]{
		entries:  make([]T, size),
		strategy: o.wait,
		onError:  o.onError,
	}
	d.seq.init(int64(size), o.producer == MultiProducer)
	return d, nil
}

// InitEntries calls init once for every entry of the ring, in order; use it
// before Start to pre-allocate what entries hold (buffers, maps), so that
// producers and handlers reuse them instead of allocating per event.
func (d *Disruptor[T]) InitEntries(init func(entry *T)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mustBeNew("InitEntries")
	for i := range d.entries {
		init(&d.entries[i])
	}
}

// Size returns the number of entries in the ring.
func (d *Disruptor[T]) Size() int { return len(d.entries) }

// Start starts one goroutine per handler. Claims made before Start fail with
// ErrNotStarted. Start returns the first wiring error, if any.
func (d *Disruptor[T]) Start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.seq.state() {
	case stateRunning:
		return errors.New("disruptor: already started")
	case stateClosed, stateHalted:
		return ErrClosed
	}
	if d.buildErr != nil {
		return d.buildErr
	}
	if len(d.procs) == 0 {
		return errors.New("disruptor: no handlers; add some with HandleEventsWith before Start")
	}
	if err := d.wire(); err != nil {
		return err
	}
	if d.done == nil { // Done may have made it already
		d.done = make(chan struct{})
	}
	d.running.Store(int32(len(d.procs)))
	for _, p := range d.procs {
		go p.run()
	}
	d.seq.setState(stateRunning) // D3
	return nil
}

func (d *Disruptor[T]) processorExited() {
	if d.running.Add(-1) == 0 {
		close(d.done) // D4
	}
}

// Done returns a channel that is closed when every handler goroutine has
// returned: after a completed Shutdown, or after a halted one once the
// handlers that were busy return.
func (d *Disruptor[T]) Done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done == nil { // not started: Start or Shutdown will close it
		d.done = make(chan struct{})
	}
	return d.done
}

// Shutdown stops accepting claims (they fail with ErrClosed), waits until
// every handler has processed every entry accepted before, and returns once
// every handler goroutine has returned.
//
// If ctx ends first, Shutdown halts the handlers at their next batch
// boundary and returns an error wrapping ctx.Err() that says how many
// accepted entries were not processed by every handler; producers still
// waiting for space get ErrClosed. Done reports when the halted goroutines
// have returned. Shutdown may be called more than once and from several
// goroutines; a Shutdown before Start just closes the disruptor.
func (d *Disruptor[T]) Shutdown(ctx context.Context) error {
	s := &d.seq
	d.mu.Lock()
	switch s.state() {
	case stateNew:
		s.setState(stateClosed)
		s.target = initialSequence
		close(s.targetSet)
		if d.done == nil {
			d.done = make(chan struct{})
		}
		close(d.done)
	case stateRunning:
		s.limit.Store(pendingLimit) // Q3: before the cursor is loaded
		s.setState(stateClosed)     // Q4: store state, then load the cursor
		s.target = s.cursor.v.Load()
		s.limit.Store(s.target)
		close(s.targetSet)
		d.signalAll()
	}
	done := d.done
	d.mu.Unlock()

	select {
	case <-done:
		return d.unprocessedErr(nil)
	case <-ctx.Done():
	}
	select {
	case <-done: // finished while ctx ended: the drain is complete
		return d.unprocessedErr(nil)
	default:
	}
	d.mu.Lock()
	if s.state() == stateClosed {
		s.setState(stateHalted)
		s.limit.Store(haltLimit)
		d.signalAll()
	}
	d.mu.Unlock()
	return d.unprocessedErr(ctx.Err())
}

// unprocessedErr reports accepted entries that the handlers at the end of
// the graph have not finished; with cause nil it reports nothing if there
// are none.
func (d *Disruptor[T]) unprocessedErr(cause error) error {
	s := &d.seq
	n := int64(0)
	if len(s.gating) > 0 {
		n = s.target - minimumSequence(s.gating, s.target)
	}
	switch {
	case cause != nil:
		return fmt.Errorf("disruptor: shutdown halted: %w; %d accepted entries not processed by every handler", cause, n)
	case n > 0:
		return fmt.Errorf("disruptor: shutdown was halted earlier; %d accepted entries not processed by every handler", n)
	}
	return nil
}

func (d *Disruptor[T]) signalAll() {
	if d.seq.capacity != nil {
		d.seq.capacity.Signal()
	}
	for _, p := range d.procs {
		if p.waiter != nil {
			p.waiter.Signal()
		}
	}
}

// Claim claims the next n sequences, lo..hi, for the caller to fill (see
// Entry) and publish with Commit. It waits, by the wait strategy, while the
// ring has no room. It fails with ErrClaimSize unless 1 <= n <= Size(), with
// ErrNotStarted before Start and with ErrClosed once Shutdown has begun.
//
// Every successful Claim must be followed by a Commit of the same range, or
// the handlers stall at lo; with SingleProducer, commits must come in claim
// order.
func (d *Disruptor[T]) Claim(n int) (lo, hi int64, err error) {
	return d.claim(n, true)
}

// TryClaim is Claim without waiting: when the ring has no room for n entries
// it returns ErrFull at once and claims nothing.
func (d *Disruptor[T]) TryClaim(n int) (lo, hi int64, err error) {
	return d.claim(n, false)
}

func (d *Disruptor[T]) claim(n int, wait bool) (lo, hi int64, err error) {
	s := &d.seq
	if n < 1 || int64(n) > s.size {
		return -1, -1, fmt.Errorf("%w: %d (ring size %d)", ErrClaimSize, n, s.size)
	}
	switch {
	case !s.multi:
		hi, err = s.claimSingle(int64(n), wait)
	case wait:
		hi, err = s.claimMulti(int64(n))
	default:
		hi, err = s.tryClaimMulti(int64(n))
	}
	if err != nil {
		return -1, -1, err
	}
	return hi - int64(n) + 1, hi, nil
}

// Entry returns the entry of a claimed sequence. The caller may write it
// until it commits the sequence and must not touch it afterwards.
func (d *Disruptor[T]) Entry(seq int64) *T {
	return &d.entries[seq&d.seq.mask]
}

// Commit publishes the claimed sequences lo..hi to the handlers. It returns
// ErrClosed if Shutdown began before the entries were accepted (possible
// only with SingleProducer); no handler sees them then.
func (d *Disruptor[T]) Commit(lo, hi int64) error {
	s := &d.seq
	if lo > hi || lo < 0 {
		panic("disruptor: Commit of an invalid range")
	}
	if s.multi {
		s.publishMulti(lo, hi)
		return nil
	}
	if hi > s.next {
		panic("disruptor: Commit of a sequence that was not claimed")
	}
	return s.publishSingle(hi)
}

// Publish claims one entry, waiting while the ring is full, lets fill write
// it in place and publishes it. fill must not retain the pointer. Publish
// returns the errors of Claim and Commit; a nil error means the entry will
// reach every handler.
func (d *Disruptor[T]) Publish(fill func(entry *T)) error {
	s := &d.seq
	if s.multi {
		// claimMulti, flattened: its checks are one branch before and one
		// after the add.
		if s.ctl.Load()&stateMask != stateRunning {
			if err := s.checkRunning(); err != nil {
				return err
			}
		}
		hi := s.cursor.v.Add(1) // M1
		if hi-s.size > s.gateShared.v.Load() || s.ctl.Load()&stateMask != stateRunning {
			if err := s.claimedMulti(hi); err != nil {
				return err
			}
		}
		d.fillMulti(hi, fill)
		return nil
	}
	// The single-producer fast path, flattened: claimSingle's checks in one
	// branch, and no deferred commit, since a single producer's next commit
	// publishes anything a panicking fill left behind (D5).
	seq := s.next + 1
	if seq-s.size > s.gateCache || s.ctl.Load()&stateMask != stateRunning {
		if _, err := s.claimSingle(1, true); err != nil {
			return err
		}
	} else {
		s.next = seq
	}
	fill(&d.entries[seq&s.mask])
	s.cursor.v.Store(seq) // publishSingle, inlined by hand (it is just over budget)
	if s.ctl.Load() != stateRunning {
		return s.published(seq)
	}
	return nil
}

// fillMulti fills and publishes one claimed multi-producer entry; the
// deferred publish runs even if fill panics (D5).
func (d *Disruptor[T]) fillMulti(seq int64, fill func(*T)) {
	defer d.seq.publishOne(seq)
	fill(&d.entries[seq&d.seq.mask])
}

// TryPublish is Publish without waiting: it returns ErrFull at once when the
// ring is full.
func (d *Disruptor[T]) TryPublish(fill func(entry *T)) error {
	lo, _, err := d.claim(1, false)
	if err != nil {
		return err
	}
	return d.fillOne(lo, fill)
}

func (d *Disruptor[T]) fillOne(seq int64, fill func(*T)) error {
	if d.seq.multi {
		d.fillMulti(seq, fill)
		return nil
	}
	fill(&d.entries[seq&d.seq.mask])
	return d.seq.publishSingle(seq)
}

// PublishBatch claims n consecutive entries (waiting while the ring lacks
// room), calls fill for each with its index 0..n-1 in the batch, and
// publishes them together, which costs about as much as publishing one.
func (d *Disruptor[T]) PublishBatch(n int, fill func(i int, entry *T)) error {
	lo, hi, err := d.claim(n, true)
	if err != nil {
		return err
	}
	return d.fillBatch(lo, hi, fill)
}

// TryPublishBatch is PublishBatch without waiting: it returns ErrFull at
// once when the ring lacks room for n entries.
func (d *Disruptor[T]) TryPublishBatch(n int, fill func(i int, entry *T)) error {
	lo, hi, err := d.claim(n, false)
	if err != nil {
		return err
	}
	return d.fillBatch(lo, hi, fill)
}

func (d *Disruptor[T]) fillBatch(lo, hi int64, fill func(int, *T)) error {
	mask := d.seq.mask
	if d.seq.multi {
		defer d.seq.publishMulti(lo, hi) // D5: even if fill panics
	}
	for s := lo; s <= hi; s++ {
		fill(int(s-lo), &d.entries[s&mask])
	}
	if d.seq.multi {
		return nil
	}
	return d.seq.publishSingle(hi)
}

// Stats is a snapshot of a disruptor's counters, for metrics.
type Stats struct {
	Size int
	// Cursor is the highest claimed sequence (multi-producer) or the
	// highest published one (single-producer); -1 before the first.
	Cursor int64
	// Processed is the number of entries every handler at the end of the
	// graph has finished.
	Processed int64
	// Full counts claims refused with ErrFull; Refused those refused with
	// ErrNotStarted or ErrClosed.
	Full, Refused uint64
	// HandlerErrors and HandlerPanics count handler calls that returned an
	// error or panicked (each was given to the error handler).
	HandlerErrors, HandlerPanics uint64
}

// Stats returns the current counters. It is safe to call at any time from
// any goroutine.
func (d *Disruptor[T]) Stats() Stats {
	d.mu.Lock()
	gating := d.seq.gating
	d.mu.Unlock()
	st := Stats{
		Size:          len(d.entries),
		Cursor:        d.seq.cursor.v.Load(),
		Full:          d.seq.full.Load(),
		Refused:       d.seq.refused.Load(),
		HandlerErrors: d.errors.Load(),
		HandlerPanics: d.panics.Load(),
	}
	if len(gating) > 0 {
		st.Processed = minimumSequence(gating, noLimit) + 1
	}
	return st
}
