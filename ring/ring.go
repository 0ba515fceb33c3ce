// Package ring is a lock-free, single-writer broadcast ring in the style of the
// LMAX Disruptor: one writer publishes values of any type, any number of
// readers consume them independently, and the writer never waits for anyone.
//
// A reader that falls further behind than the ring holds (at least Cap()
// values) is overrun. It learns so from the sequence gap and gets a *LagError
// carrying the exact number of values it missed — the semantics of tokio's
// broadcast Lagged(n), without its locks — then continues from the oldest
// value still held, or, with WithLagHeadroom, further on, so that a writer
// that keeps overrunning it does not lap it again at once.
//
// Sequences start at 1 and grow by one per value; 0 means "none".
//
// Reads return the *LagError itself, never wrapped, so a read loop can test
// it with a type assertion (lag, ok := err.(*ring.LagError)); errors.As with
// the address of a local also works but moves that local to the heap, an
// allocation per call on a hot path.
package ring

// Design and invariants.
//
// Values live in pages of P entries (P = min(64, capacity), a power of two);
// sequence s is entry (s-1)%P of page (s-1)/P, which sits in page slot
// ((s-1)/P) % npages. npages = capacity/P + 1: the page being filled plus
// capacity/P full ones, so the ring always holds at least Cap() values (up to
// Cap()+P-1). A page's fields are plain memory; whether a goroutine may touch
// them is decided by the protocol below, which the race detector checks under
// stress.
//
// Writer (one goroutine, or callers that serialise themselves):
//   W1. To publish seq s the writer writes the value into entry (s-1)%P of the
//       current page and only then stores s into cursor. When s starts a page,
//       it first takes a page that no reader can reach (a fresh one, or one
//       reclaimed under R3), sets its base to s, and stores it into its slot.
//       So cursor >= s implies the slot of s holds a page with base >= the
//       base of s, and if the bases are equal, entry (s-1)%P holds s's value
//       (the atomic store/load pair orders the plain writes before it).
//   W2. The page that a slot store displaces is "retired". Retired pages are
//       unreachable from the slots, and are kept in base order.
//   W3. The writer never waits: it never spins, parks or takes a lock on the
//       publish path (waking parked or napping readers is a swap, loads and
//       non-blocking sends; see wait.go).
//   W4. The writer never writes more than Cap() values past the cursor: a
//       PublishBatch larger than that is committed (W1) every Cap() values.
//       So every page in a slot has base <= cursor+Cap(), and the oldest
//       sequence held once such a base is written is <= cursor (see "Why lag
//       counts are exact").
//   W5. A page taken from the free list is cleared before its first value is
//       written. It is unreachable then (R3), so clearing it is one more write
//       of the kind "Why a reader never sees a torn value" covers; it also
//       drops the references its last lap held.
//
// Close (any goroutine):
//   C1. The cursor word carries closedBit once the ring is closed. Close sets
//       it with an atomic Or; the writer commits with a compare-and-swap from
//       the value it last stored, so a commit either lands before Close (and
//       readers, who stop only when they see the bit, see its values) or
//       fails and the publish returns 0. Sequences never reach 2^63.
//   C2. After a failed commit, pages the writer took for the lost values stay
//       in their slots: a draining reader that finds one was overrun (R2) and
//       is told the exact count, like any other lag; Publish checks the
//       closed flag first, so this happens only when Close races a publish.
//
// Reader (one goroutine per Reader):
//   R1. Before it loads any slot, a reader announces busy|p in its state word,
//       where p is the lowest sequence it is about to read; it clears the busy
//       bit after it has copied the values out.
//   R2. It reads sequence q only when cursor >= q, from the page in q's slot,
//       and only if that page's base is the base of q; a larger base means the
//       writer lapped it: the reader lagged.
//   R3. The writer reuses a retired page only after a scan of every reader's
//       state in which no busy reader announced a p <= the page's last seq.
//
// Why a reader never sees a torn value. Go's atomics are sequentially
// consistent. Suppose a reader copies from page g (its seqs reach >= p by R2)
// while the writer rewrites g. The rewrite followed a scan (R3) that began
// after g was retired, i.e. after g left its slot (W2). The reader loaded g
// from the slot before that, and announced busy|p (R1) before its load, so
// before the scan: the scan saw busy|p with p <= g's last seq and could not
// have freed g. The reader's clearing store of the busy bit happens after its
// copy, and the scan that sees the bit clear happens before the rewrite, so
// the copy happens before the rewrite. Readers that announce after a scan
// load only pages that are in slots, and the writer writes a page in a slot
// only at entries above the cursor, which no reader reads (R2). No reader ever
// reads memory the writer is writing, whatever T is.
//
// Why lag counts are exact. A reader at p that finds in p's slot a page with
// base b > base(p) knows the writer wrote b, hence (writing in order) retired
// every page before the npages-1 pages preceding b's. It resumes at or after
// the oldest sequence still held, computed from max(cursor, b), and reports
// exactly the sequences it skipped: the overwritten ones and its headroom
// (L1 in lag.go). By W4 that oldest
// sequence is at most the cursor it loaded afterwards, so the reader resumes
// at a published value that was held when it looked.
//
// Costs. Publish writes one entry and stores the cursor: one atomic store (a
// second one, to a slot, and a clear of the page taken, once per page). The
// cursor's compare-and-swap waits for every store before it to reach the
// cache, and a store to a line that a reader's cache still holds waits for
// that copy to be invalidated: W5 pays those waits once per page, together,
// instead of once per line. Pages are recycled, so in steady
// state Publish allocates nothing (pages are allocated lazily during the first
// lap, and when a scan finds every retired page pinned by a busy lagging
// reader). A read is one cursor load (skipped while the reader is behind a
// cursor it already saw), two stores to the reader's own cache line, a slot
// load per page and a copy; Next and TryNext read ahead into a small
// per-reader buffer, so those costs are paid once per batch, not per value.
// Readers never write shared memory.

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// cacheLinePad separates fields written by different goroutines. 128 bytes
// covers the adjacent-line prefetcher of current x86 parts as well as the
// 128-byte lines of some arm64 ones.
type cacheLinePad struct{ _ [128]byte }

// page holds P consecutive values; seq base+i is vals[i].
type page[T any] struct {
	base uint64 // seq of vals[0]; written by the writer only while unreachable
	vals []T
}

func (g *page[T]) last() uint64 { return g.base + uint64(len(g.vals)) - 1 }

// Ring is a single-writer broadcast ring. Publish and PublishBatch must be
// called from one goroutine at a time; everything else is safe for concurrent
// use.
type Ring[T any] struct {
	// Fixed at New; read by everyone.
	slots    []atomic.Pointer[page[T]]
	npages   uint64
	pshift   uint   // log2(P)
	pmask    uint64 // P-1
	capacity uint64 // what New was asked for, rounded up to a power of two
	wait     WaitStrategy
	headroom int // the readers' default (lag.go)
	spare    int // pages retired between scans
	procs    int // GOMAXPROCS at New: Adaptive's readers are solo below it (wait.go)

	_      cacheLinePad
	cursor atomic.Uint64 // last published sequence, | closedBit once closed (C1)
	_      cacheLinePad

	// Owned by the writer.
	pub     uint64   // the last sequence the writer committed to cursor
	wseq    uint64   // the last sequence written (> pub while a commit is pending)
	wpage   *page[T] // the page seq wseq went into
	free    []*page[T]
	retired []*page[T] // ascending base; unreachable from slots (W2)

	_        cacheLinePad
	closed   atomic.Bool               // set by Close before the cursor's closedBit; read by Publish
	sleepers atomic.Pointer[Reader[T]] // stack of parked readers (wait.go); nil when none wait
	napWake  atomic.Uint64             // wake the nappers once the cursor reaches it (P6); noNapWake when none naps
	_        cacheLinePad

	// Nappers (P8), apart from the line the writer loads on every commit.
	nappers   atomic.Pointer[Reader[T]] // stack of napping readers, through waitState.napNext
	handedOff atomic.Pointer[Reader[T]] // nappers the writer left for the first woken one to wake
	_         cacheLinePad

	// The readers, for the writer's scans (R3) and for Readers and MaxLag.
	readers  atomic.Pointer[readerTable[T]]
	nreaders atomic.Int64
	mu       sync.Mutex // serialises Subscribe and Reader.Close
	used     int        // slots of the current table handed out so far; guarded by mu
	vacant   []int      // slots freed by Close, to hand out again; guarded by mu
}

// readerTable holds the open readers in slots of atomic pointers (nil: no
// reader). A Subscribe fills a vacant slot, and Close empties its slot, each in
// O(1); a full table is replaced by a copy twice its size. A scan that loaded
// an older table may still see a closed reader there: harmless, since a closed
// reader never announces busy while it copies, and at worst pins pages for
// one scan. A reader that subscribes after a scan loaded its table (or after
// it passed the slot) registers after that scan began, so it can only load
// pages that were in slots when the scan began, which that scan never frees.
type readerTable[T any] struct {
	slots []atomic.Pointer[Reader[T]]
}

// eachReader calls f for every reader of the current table.
func (r *Ring[T]) eachReader(f func(*Reader[T])) {
	t := r.readers.Load()
	for i := range t.slots {
		if rd := t.slots[i].Load(); rd != nil {
			f(rd)
		}
	}
}

// Option configures a Ring (New) or one Reader (Subscribe, SubscribeFrom).
type Option func(*options)

type options struct {
	wait     WaitStrategy
	headroom int // badHeadroom: a negative WithLagHeadroom (lag.go)
}

// badHeadroom marks a negative WithLagHeadroom, which validate rejects.
const badHeadroom = -1

// validate checks o for a ring of capacity c and caps the headroom at c.
func (o *options) validate(c uint64) error {
	if !o.wait.valid() {
		return fmt.Errorf("ring: unknown wait strategy %d", o.wait)
	}
	if o.headroom == badHeadroom {
		return errors.New("ring: lag headroom is negative")
	}
	o.headroom = min(o.headroom, int(c))
	return nil
}

// WithWaitStrategy sets how readers wait for new values. Given to New it is the
// default for every reader of the ring; given to Subscribe it applies to that
// reader only. The default is Adaptive.
func WithWaitStrategy(ws WaitStrategy) Option {
	return func(o *options) { o.wait = ws }
}

// maxCapacity bounds the ring: 1<<30 values is already 8 GiB of pointers.
const maxCapacity = 1 << 30

// maxPage is the most values in a page: large enough that the slot store and
// the reader's page lookup are rare, small enough that a ring is not much
// larger than asked.
const maxPage = 64

// New returns a ring that holds at least the last capacity values, capacity
// rounded up to a power of two (Cap reports it). Memory for values is
// allocated lazily, as the ring first fills.
func New[T any](capacity int, opts ...Option) (*Ring[T], error) {
	if capacity < 1 || capacity > maxCapacity {
		return nil, fmt.Errorf("ring: capacity %d out of range [1, %d]", capacity, maxCapacity)
	}
	c := uint64(1) << bits.Len64(uint64(capacity-1))
	o := options{wait: Adaptive}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(c); err != nil {
		return nil, err
	}
	p := min(c, maxPage)
	n := c/p + 1
	r := &Ring[T]{
		slots:    make([]atomic.Pointer[page[T]], n),
		npages:   n,
		pshift:   uint(bits.TrailingZeros64(p)),
		pmask:    p - 1,
		capacity: c,
		wait:     o.wait,
		headroom: o.headroom,
		spare:    int(max(n/4, 1)),
		procs:    runtime.GOMAXPROCS(0),
	}
	r.napWake.Store(noNapWake)
	r.readers.Store(&readerTable[T]{slots: make([]atomic.Pointer[Reader[T]], 8)})
	return r, nil
}

// Publish makes v visible to every reader and returns its sequence. It never
// waits for readers: when the ring is full it overwrites the oldest values. It
// returns 0, and publishes nothing, once the ring is closed; a value whose
// Publish returned its sequence reaches every reader (or is counted in a
// reader's LagError), even when Close races the call.
func (r *Ring[T]) Publish(v T) uint64 {
	if r.closed.Load() {
		return 0
	}
	r.put(v)
	return r.commit()
}

// PublishBatch publishes a copy of vs (the ring keeps no reference to the
// slice) and returns the sequence of the last; the first is that minus
// len(vs)-1. Readers see up to Cap() values at once (one cursor store); a
// batch larger than Cap() is made visible Cap() values at a time, each step
// overwriting the one before, so a Close that races it may cut it short: it
// then returns the sequence of the last value made visible, or 0 if none was.
// It returns 0 for an empty batch or a closed ring.
func (r *Ring[T]) PublishBatch(vs []T) uint64 {
	if len(vs) == 0 || r.closed.Load() {
		return 0
	}
	var last uint64
	for len(vs) > 0 {
		n := min(uint64(len(vs)), r.capacity) // W4
		r.write(vs[:n])
		vs = vs[n:]
		seq := r.commit()
		if seq == 0 {
			return last
		}
		last = seq
	}
	return last
}

// write puts vs after wseq, filling the rest of the current page in one copy.
func (r *Ring[T]) write(vs []T) {
	for len(vs) > 0 {
		e := r.wseq & r.pmask // entry of the next seq
		if e == 0 {
			r.put(vs[0])
			vs = vs[1:]
			continue
		}
		n := copy(r.wpage.vals[e:], vs)
		r.wseq += uint64(n)
		vs = vs[n:]
	}
}

// commit makes every value up to wseq visible (W1) and wakes parked readers
// (P1, P2 in wait.go); it returns 0 if Close got there first (C1).
func (r *Ring[T]) commit() uint64 {
	if !r.cursor.CompareAndSwap(r.pub, r.wseq) {
		return 0 // only Close changes the cursor besides the writer
	}
	r.pub = r.wseq
	if r.sleepers.Load() != nil {
		r.wakeAll()
	}
	if t := r.napWake.Load(); r.wseq >= t { // P6
		r.wakeNappers(t)
	}
	return r.wseq
}

// put writes the next seq's value (W1), starting a page when it must.
func (r *Ring[T]) put(v T) {
	seq := r.wseq + 1
	idx := seq - 1
	if e := idx & r.pmask; e != 0 {
		r.wpage.vals[e] = v
		r.wseq = seq
		return
	}
	g := r.take()
	g.base = seq
	g.vals[0] = v
	if old := r.slots[(idx>>r.pshift)%r.npages].Swap(g); old != nil {
		r.retired = append(r.retired, old) // W2
	}
	r.wpage = g
	r.wseq = seq
}

// take returns a page that no reader can reach.
func (r *Ring[T]) take() *page[T] {
	if len(r.free) == 0 && len(r.retired) >= r.spare {
		r.reclaim()
	}
	if n := len(r.free) - 1; n >= 0 {
		g := r.free[n]
		r.free[n] = nil
		r.free = r.free[:n]
		// The readers' caches still hold this page's lines from its last
		// lap. Clearing it takes them all back in one burst, whose transfers
		// overlap, rather than one transfer per line that the commit after
		// each put must wait for (W5).
		clear(g.vals)
		return g
	}
	return &page[T]{vals: make([]T, r.pmask+1)}
}

// reclaim moves to the free list every retired page that no busy reader may
// be copying from (R3). Retired pages are in base order, so the reusable ones
// are a prefix.
func (r *Ring[T]) reclaim() {
	pinned := ^uint64(0)
	r.eachReader(func(rd *Reader[T]) {
		if s := rd.state.Load(); s&busyBit != 0 {
			pinned = min(pinned, s&^busyBit)
		}
	})
	k := 0
	for k < len(r.retired) && r.retired[k].last() < pinned {
		k++
	}
	// After a long pin many pages come free at once: keep a bounded number.
	keep := max(0, min(k, 2*r.spare-len(r.free)))
	r.free = append(r.free, r.retired[:keep]...)
	rest := copy(r.retired, r.retired[k:])
	clear(r.retired[rest:])
	r.retired = r.retired[:rest]
}

// closedBit marks the cursor word of a closed ring (C1).
const closedBit = 1 << 63

// Cursor returns the sequence of the last published value, 0 if none.
func (r *Ring[T]) Cursor() uint64 { return r.cursor.Load() &^ closedBit }

// Oldest returns the oldest sequence still held: the lowest that
// SubscribeFrom accepts. It is 1 while the ring has not yet wrapped.
func (r *Ring[T]) Oldest() uint64 { return r.oldest(r.Cursor()) }

// oldest returns the oldest sequence held once seq has been written: the base
// of the page npages-1 pages before seq's page.
func (r *Ring[T]) oldest(seq uint64) uint64 {
	if seq == 0 {
		return 1
	}
	pageNo := (seq - 1) >> r.pshift
	if pageNo < r.npages-1 {
		return 1
	}
	return (pageNo-(r.npages-1))<<r.pshift + 1
}

// Cap returns how many values the ring holds at least: the capacity given to
// New, rounded up to a power of two. Values live in pages of P = min(64, Cap())
// and the page being filled is held too, so it holds between Cap()+1 and
// Cap()+P values once it has wrapped; Oldest says exactly which.
func (r *Ring[T]) Cap() int { return int(r.capacity) }

// Readers returns the number of open readers.
func (r *Ring[T]) Readers() int { return int(r.nreaders.Load()) }

// MaxLag returns the largest Lag among open readers. It reads each reader's
// state word once and never slows the writer.
func (r *Ring[T]) MaxLag() uint64 {
	c := r.Cursor()
	var m uint64
	r.eachReader(func(rd *Reader[T]) { m = max(m, lag(c, rd.state.Load()&^busyBit)) })
	return m
}

// Close stops publishing. Readers receive what was published before Close
// (every value whose Publish returned a sequence), then ErrClosed. Close is
// idempotent and may be called from any goroutine, while the writer publishes.
func (r *Ring[T]) Close() {
	if r.closed.Swap(true) {
		return
	}
	r.cursor.Or(closedBit) // C1
	r.wakeAll()
	r.eachReader((*Reader[T]).token) // P5
}

// Subscribe returns a reader that sees the values published after the call.
func (r *Ring[T]) Subscribe(opts ...Option) *Reader[T] {
	rd, err := r.subscribe(0, opts)
	if err != nil {
		panic(err) // a bad Option: a programming error, as in New
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
		c := r.Cursor()
		return nil, &RangeError{Requested: 0, Oldest: r.oldest(c), Newest: c}
	}
	return r.subscribe(seq, opts)
}

func (r *Ring[T]) subscribe(seq uint64, opts []Option) (*Reader[T], error) {
	o := options{wait: r.wait, headroom: r.headroom}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(r.capacity); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.Cursor()
	if seq == 0 {
		seq = c + 1
	} else if seq > c+1 || seq < r.oldest(c) {
		return nil, &RangeError{Requested: seq, Oldest: r.oldest(c), Newest: c}
	}
	rd := &Reader[T]{ring: r, pos: seq, wait: o.wait, headroom: uint32(o.headroom), done: make(chan struct{}), wake: make(chan struct{}, 1)}
	rd.state.Store(seq)
	t := r.readers.Load()
	switch n := len(r.vacant); {
	case n > 0:
		rd.slot = r.vacant[n-1]
		r.vacant = r.vacant[:n-1]
	case r.used < len(t.slots):
		rd.slot = r.used
		r.used++
	default:
		bigger := &readerTable[T]{slots: make([]atomic.Pointer[Reader[T]], 2*len(t.slots))}
		for i := range t.slots {
			bigger.slots[i].Store(t.slots[i].Load())
		}
		r.readers.Store(bigger)
		t = bigger
		rd.slot = r.used
		r.used++
	}
	t.slots[rd.slot].Store(rd)
	r.nreaders.Add(1)
	return rd, nil
}

// removeReader drops rd from the table the writer scans. The caller has made
// sure rd is not busy and never will be again.
func (r *Ring[T]) removeReader(rd *Reader[T]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.readers.Load().slots[rd.slot].Store(nil)
	r.vacant = append(r.vacant, rd.slot)
	r.nreaders.Add(-1)
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
