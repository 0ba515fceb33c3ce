// Package ring is a lock-free, single-writer broadcast ring in the style of the
// LMAX Disruptor: one writer publishes values of any type, any number of
// readers consume them independently, and the writer never waits for anyone.
//
// A reader that falls more than Cap() values behind is overrun. It learns so
// from the sequence gap and gets a *LagError carrying the exact number of
// values it missed, then continues from the oldest value still held — the
// semantics of tokio's broadcast Lagged(n), without its locks.
//
// Sequences start at 1 and grow by one per value; 0 means "none".
package ring

// Design and invariants.
//
// The ring is an array of cap (a power of two) slots. Slot s&mask holds an
// atomic pointer to a box{seq, val}. A box's fields are plain memory; whether
// a goroutine may touch them is decided by the protocol below, which the race
// detector checks under stress.
//
// Writer (one goroutine, or callers that serialise themselves):
//   W1. To publish seq s the writer takes a box that no reader can reach
//       (a fresh one, or one reclaimed under R3), writes seq and val into it,
//       stores it into slot s&mask, and only then stores s into cursor.
//       So cursor >= s implies slot s&mask holds a box with seq >= s, fully
//       written (the atomic store/load pair orders the plain writes before it).
//   W2. The box that the store in W1 displaces is "retired". Retired boxes
//       are unreachable from the slots, and are kept in seq order.
//   W3. The writer never waits: it never spins, parks or takes a lock on the
//       publish path, except to wake parked readers when there are some.
//
// Reader (one goroutine per Reader):
//   R1. Before it loads any slot, a reader announces busy|p in its state word,
//       where p is the lowest sequence it is about to read; it clears the busy
//       bit after it has copied the values out.
//   R2. It reads sequence q only when cursor >= q (so by W1 the slot holds a
//       box with seq >= q), and it keeps the value only if box.seq == q;
//       box.seq > q means the writer lapped it: the reader lagged.
//   R3. The writer reuses a retired box b only after a scan of every
//       reader's state in which no busy reader announced a p <= b.seq.
//
// Why a reader never sees a torn value. Go's atomics are sequentially
// consistent. Suppose a reader copies box b (b.seq >= p by R2) while the
// writer rewrites b. The rewrite followed a scan (R3) that began after b was
// retired, i.e. after b left its slot (W2). The reader loaded b from the slot
// before that, and announced busy|p (R1) before its load, so before the scan:
// the scan saw busy|p with p <= b.seq and could not have freed b. The reader's
// clearing store of the busy bit happens after its copy, and the scan that
// sees the bit clear happens before the rewrite, so the copy happens before
// the rewrite. Readers that announce after a scan load only boxes that are in
// slots, and boxes in slots are never rewritten. No reader ever reads memory
// the writer is writing, whatever T is.
//
// Why lag counts are exact. A reader at p that finds box.seq = s > p knows
// the writer wrote s, hence (writing in order) overwrote every seq <= s-cap.
// It resumes at max(cursor, s)-cap+1 and reports exactly the sequences it
// skipped; the values it skipped were all overwritten.
//
// Costs. Publish writes one box and two atomic words; boxes are recycled, so
// in steady state Publish allocates nothing (boxes are allocated lazily, in
// chunks, during the first lap and whenever a scan finds every retired box
// still pinned by a busy lagging reader). A read is one cursor load, two
// stores to the reader's own cache line, one slot load and the copy; a batch
// read amortises the stores over the batch. Readers never write shared memory.

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
)

// cacheLinePad separates fields written by different goroutines. 128 bytes
// covers the adjacent-line prefetcher of current x86 parts as well as the
// 128-byte lines of some arm64 ones.
type cacheLinePad struct{ _ [128]byte }

// box is one published value with its sequence.
type box[T any] struct {
	seq uint64
	val T
}

// Ring is a single-writer broadcast ring. Publish, PublishBatch must be called
// from one goroutine at a time; everything else is safe for concurrent use.
type Ring[T any] struct {
	// Fixed at New; read by everyone.
	slots    []atomic.Pointer[box[T]]
	mask     uint64
	capacity uint64
	wait     WaitStrategy
	spare    int // boxes reclaimed per scan, and the size of an allocation chunk

	_      cacheLinePad
	cursor atomic.Uint64 // last published sequence; stored only by the writer
	_      cacheLinePad

	// Owned by the writer.
	wseq    uint64
	free    []*box[T]
	retired []*box[T] // ascending seq; unreachable from slots (W2)

	_        cacheLinePad
	closed   atomic.Bool
	sleepers atomic.Int32 // readers parked in the blocking wait (len(waiting))
	_        cacheLinePad

	readers atomic.Pointer[[]*Reader[T]] // copy-on-write, changed under mu
	mu      sync.Mutex

	waitMu  sync.Mutex
	waiting []*Reader[T] // parked readers to wake; guarded by waitMu
}

// Option configures a Ring (New) or one Reader (Subscribe, SubscribeFrom).
type Option func(*options)

type options struct {
	wait    WaitStrategy
	waitSet bool
}

// WithWaitStrategy sets how readers wait for new values. Given to New it is the
// default for every reader of the ring; given to Subscribe it applies to that
// reader only. The default is Blocking.
func WithWaitStrategy(ws WaitStrategy) Option {
	return func(o *options) { o.wait, o.waitSet = ws, true }
}

// maxCapacity bounds the slot array: 1<<30 slots is already 8 GiB of pointers.
const maxCapacity = 1 << 30

// New returns a ring that holds the last capacity values, rounded up to a power
// of two (Cap reports the result). Memory for values is allocated lazily, as the
// ring first fills.
func New[T any](capacity int, opts ...Option) (*Ring[T], error) {
	if capacity < 1 || capacity > maxCapacity {
		return nil, fmt.Errorf("ring: capacity %d out of range [1, %d]", capacity, maxCapacity)
	}
	o := options{wait: Blocking}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.wait.valid() {
		return nil, fmt.Errorf("ring: unknown wait strategy %d", o.wait)
	}
	c := uint64(1) << bits.Len64(uint64(capacity-1))
	r := &Ring[T]{
		slots:    make([]atomic.Pointer[box[T]], c),
		mask:     c - 1,
		capacity: c,
		wait:     o.wait,
		spare:    int(min(max(c/4, 1), 1024)),
	}
	r.readers.Store(new([]*Reader[T]))
	return r, nil
}

// Publish makes v visible to every reader and returns its sequence. It never
// waits for readers: when the ring is full it overwrites the oldest value. It
// returns 0, and publishes nothing, once the ring is closed.
func (r *Ring[T]) Publish(v T) uint64 {
	if r.closed.Load() {
		return 0
	}
	r.wseq++
	r.put(r.wseq, v)
	r.cursor.Store(r.wseq)
	if r.sleepers.Load() != 0 {
		r.wakeAll()
	}
	return r.wseq
}

// PublishBatch publishes vs so that readers see them at once (one cursor store
// per Cap() values) and returns the sequence of the last; the first is that
// minus len(vs)-1. It returns 0 for an empty batch or a closed ring.
func (r *Ring[T]) PublishBatch(vs []T) uint64 {
	if len(vs) == 0 || r.closed.Load() {
		return 0
	}
	for len(vs) > 0 {
		n := min(uint64(len(vs)), r.capacity)
		for i := range n {
			r.wseq++
			r.put(r.wseq, vs[i])
		}
		r.cursor.Store(r.wseq)
		vs = vs[n:]
	}
	if r.sleepers.Load() != 0 {
		r.wakeAll()
	}
	return r.wseq
}

// put writes seq into its slot (W1) and retires the box it displaces (W2).
func (r *Ring[T]) put(seq uint64, v T) {
	b := r.take()
	b.seq, b.val = seq, v
	if old := r.slots[seq&r.mask].Swap(b); old != nil {
		r.retired = append(r.retired, old)
	}
}

// take returns a box that no reader can reach.
func (r *Ring[T]) take() *box[T] {
	if len(r.free) == 0 {
		if len(r.retired) >= r.spare {
			r.reclaim()
		}
		if len(r.free) == 0 {
			chunk := make([]box[T], r.spare)
			for i := range chunk {
				r.free = append(r.free, &chunk[i])
			}
		}
	}
	n := len(r.free) - 1
	b := r.free[n]
	r.free[n] = nil
	r.free = r.free[:n]
	return b
}

// reclaim moves to the free list every retired box that no busy reader may be
// copying (R3). Retired boxes are in seq order, so the reusable ones are a prefix.
func (r *Ring[T]) reclaim() {
	pinned := ^uint64(0)
	for _, rd := range *r.readers.Load() {
		if s := rd.state.Load(); s&busyBit != 0 {
			pinned = min(pinned, s&^busyBit)
		}
	}
	k := 0
	for k < len(r.retired) && r.retired[k].seq < pinned {
		k++
	}
	// Keep the free list bounded after a long pin released many boxes at once.
	keep := min(k, 2*r.spare-len(r.free))
	r.free = append(r.free, r.retired[:keep]...)
	rest := copy(r.retired, r.retired[k:])
	clear(r.retired[rest:])
	r.retired = r.retired[:rest]
}

// Cursor returns the sequence of the last published value, 0 if none.
func (r *Ring[T]) Cursor() uint64 { return r.cursor.Load() }

// Oldest returns the oldest sequence still held: the lowest that
// SubscribeFrom accepts. It is Cursor()+1 while the ring is empty.
func (r *Ring[T]) Oldest() uint64 { return oldest(r.cursor.Load(), r.capacity) }

func oldest(cursor, capacity uint64) uint64 {
	if cursor < capacity {
		return 1
	}
	return cursor - capacity + 1
}

// Cap returns the number of values the ring holds.
func (r *Ring[T]) Cap() int { return int(r.capacity) }

// Readers returns the number of open readers.
func (r *Ring[T]) Readers() int { return len(*r.readers.Load()) }

// MaxLag returns the largest Lag among open readers. It reads each reader's
// state word once and never slows the writer.
func (r *Ring[T]) MaxLag() uint64 {
	c := r.cursor.Load()
	var m uint64
	for _, rd := range *r.readers.Load() {
		m = max(m, lag(c, rd.state.Load()&^busyBit))
	}
	return m
}

// Close stops publishing. Readers receive what was published before Close,
// then ErrClosed. Close is idempotent and may be called from any goroutine.
func (r *Ring[T]) Close() {
	if r.closed.Swap(true) {
		return
	}
	r.wakeAll()
}

// Subscribe returns a reader that sees the values published after the call.
func (r *Ring[T]) Subscribe(opts ...Option) *Reader[T] {
	rd, err := r.subscribe(0, opts)
	if err != nil {
		panic(err) // unreachable: only a seq can be out of range
	}
	return rd
}

// SubscribeFrom returns a reader whose first value is seq, if the ring still
// holds it; seq == Cursor()+1 is the same as Subscribe. Otherwise it returns a
// *RangeError (errors.Is(err, ErrOutOfRange)) that names the oldest and newest
// sequences held. The writer keeps going meanwhile: a replay that starts at
// the very oldest value may be overrun at once and report a lag.
func (r *Ring[T]) SubscribeFrom(seq uint64, opts ...Option) (*Reader[T], error) {
	if seq == 0 {
		c := r.cursor.Load()
		return nil, &RangeError{Requested: 0, Oldest: oldest(c, r.capacity), Newest: c}
	}
	return r.subscribe(seq, opts)
}

func (r *Ring[T]) subscribe(seq uint64, opts []Option) (*Reader[T], error) {
	o := options{wait: r.wait}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.wait.valid() {
		return nil, fmt.Errorf("ring: unknown wait strategy %d", o.wait)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cursor.Load()
	if seq == 0 {
		seq = c + 1
	} else if seq > c+1 || seq < oldest(c, r.capacity) {
		return nil, &RangeError{Requested: seq, Oldest: oldest(c, r.capacity), Newest: c}
	}
	rd := &Reader[T]{ring: r, pos: seq, wait: o.wait, wake: make(chan struct{}, 1)}
	rd.state.Store(seq)
	old := *r.readers.Load()
	next := make([]*Reader[T], len(old), len(old)+1)
	copy(next, old)
	next = append(next, rd)
	r.readers.Store(&next)
	return rd, nil
}

// removeReader drops rd from the list the writer scans. The caller has made
// sure rd is not busy and never will be again.
func (r *Ring[T]) removeReader(rd *Reader[T]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.readers.Load()
	next := make([]*Reader[T], 0, len(old))
	for _, x := range old {
		if x != rd {
			next = append(next, x)
		}
	}
	r.readers.Store(&next)
}

// Errors. Every error a Reader returns matches one of these with errors.Is.
var (
	// ErrLagged: the reader was overrun. The error is a *LagError with the count.
	ErrLagged = errors.New("ring: reader lagged")
	// ErrClosed: the ring or the reader is closed and nothing is left to read.
	ErrClosed = errors.New("ring: closed")
	// ErrEmpty: TryNext found nothing to read.
	ErrEmpty = errors.New("ring: empty")
	// ErrOutOfRange: SubscribeFrom asked for a sequence the ring does not hold.
	ErrOutOfRange = errors.New("ring: sequence out of range")
)

// LagError reports that a reader was overrun: the writer overwrote Missed
// values before the reader got to them. The reader continues from Resume, the
// oldest value still held when the lag was found.
type LagError struct {
	Missed uint64
	Resume uint64
}

func (e *LagError) Error() string {
	return fmt.Sprintf("ring: reader lagged: missed %d values, resuming at %d", e.Missed, e.Resume)
}

// Is makes errors.Is(err, ErrLagged) true.
func (e *LagError) Is(target error) bool { return target == ErrLagged }

// RangeError reports a SubscribeFrom sequence the ring does not hold.
type RangeError struct {
	Requested uint64 // the sequence asked for
	Oldest    uint64 // the oldest sequence held (Newest+1 when empty)
	Newest    uint64 // the last published sequence (0 when none)
}

func (e *RangeError) Error() string {
	if e.Requested > e.Newest+1 {
		return fmt.Sprintf("ring: sequence %d not yet published (newest is %d)", e.Requested, e.Newest)
	}
	return fmt.Sprintf("ring: sequence %d no longer held (oldest is %d, newest %d)", e.Requested, e.Oldest, e.Newest)
}

// Is makes errors.Is(err, ErrOutOfRange) true.
func (e *RangeError) Is(target error) bool { return target == ErrOutOfRange }
