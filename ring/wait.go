package ring

// How readers wait.
//
// Adaptive (the default) is LMAX's phased back-off, as in Agrona's
// BackoffIdleStrategy: a reader that finds nothing polls the cursor
// spinChecks times (a few hundred nanoseconds), then waits a little longer
// without parking, then parks as Blocking does. How it waits in between
// depends on whether it may have a core of its own:
//
//   - Solo (fewer readers than GOMAXPROCS): it keeps polling for soloSpinFor,
//     or for fastSpinFor when its recent pace shows values at most fastGap
//     apart, and yields every soloYieldEvery in case the writer shares its
//     processor. A parked reader's processor may go idle, and waking it then
//     takes the OS as long as the ring lasts at high rates; a reader whose
//     values come microseconds apart must not park at all.
//   - Crowded: while its pace is steady and modest it naps as Sleeping does
//     (below); otherwise it yields the processor (runtime.Gosched) between
//     polls and parks once it has yielded at least yieldChecks times and for
//     at least yieldFor, or fastSpinFor when its recent pace shows values at
//     most fastGap apart: a busy crowded reader that parks costs the writer
//     a wake-up, and the writer, falling behind its pace, then overruns the
//     ring in a burst; a yield costs nothing while others are runnable, as
//     they run first. Readers that share cores pay for every wake-up in
//     CPU the others need: parked after each value at a modest rate, they
//     cost several times as much CPU per delivery as napping ones, whose
//     latency (about napFor) is no worse than the scheduler gives them
//     anyway (docs/ring.md, fourth pass).
//
// A busy reader, whose next value comes within microseconds, never parks, so
// the writer pays no wake-up for it; an idle one parks and then uses no CPU.
//
// A reader's pace is the values it took since its last wait began, over the
// time since then. After a park, a reader that found more than the value
// that woke it measures from its wake-up instead: a backlog built while it
// was being woken is a burst, and measured across the idle spell before it,
// a burst looks like a trickle, so a crowded reader would nap into it instead
// of reading it (256 readers woken at once by a burst at 800k events/s did,
// and the burst overran the ring; docs/ring.md, eighth pass). A reader that
// found only that value keeps the pace across the park: for a steady slow
// stream that is the gap between values, and what lets Sleeping nap.
//
// Why both bounds of the crowded phase. A yield costs what the scheduler
// makes it cost. A reader alone on its core yields in ~100 ns (nothing else
// to run), so the time bound keeps it polling for yieldFor: it does not park
// between values a few microseconds apart. With N readers sharing a core each
// yield is a trip through the scheduler that runs the others first, and a
// park and its wake-up are about two such trips; there the count bound parks
// the reader after two yields, whose wall time has grown with N (each took a
// round of the others), so the ski-rental bound holds: a reader that parks
// after spending what a park costs pays at most twice the better of the two.
// A time bound alone parked every reader of a crowded core after one round;
// more yields burned the CPU that the writer and the other readers need
// (docs/ring.md has the sweep).
//
// Sleeping trades latency for CPU: a reader that was taking values at a pace
// the ring absorbs for napBudget (at most a quarter of Cap() in that time)
// naps instead of parking, and then reads what came meanwhile in one batch.
// The nap ends when the writer has published as many values as the reader's
// pace brings in napFor (the writer wakes the nappers, P6, P8), or on a
// timer of the reader's own after napLimit if the pace dropped. The wake
// comes from the writer rather than the timer because the runtime's timers
// sleep in whole milliseconds when the machine is idle, which would double
// the nap. The writer pays one token per round of naps, however many readers
// nap (the first one it wakes wakes the others), and each reader one wake-up
// per nap instead of one per value. An idle reader (no value since its last
// wait) parks as under Adaptive.
//
// Blocking (and Adaptive's last phase) parks a reader on a one-slot channel
// of its own, after pushing the reader onto the ring's stack of sleepers (a
// lock-free Treiber stack through Reader.next). The writer, after storing the
// cursor, loads the stack's head; when it is not nil it takes the whole stack
// with one swap and sends each reader a token. No lock is taken and nothing is
// allocated on either side:
//
//	writer: commit cursor (W1, C1); load sleepers   (if not nil: swap in nil, wake each)
//	reader: push itself (or find itself queued); load cursor (sleep only if still behind)
//
// Invariants:
//   P1. No lost wake-up. Go's atomics are sequentially consistent, so in the
//       pair above either the writer's swap takes a stack that holds the
//       reader, or the reader's check sees the new cursor. Close sets
//       closedBit in the cursor word (C1 in ring.go) and then does the
//       writer's part (wakeAll), so the same argument covers it; Reader.Close
//       closes done, which the parked select watches.
//   P2. A reader is pushed at most once per park: queued guards against a
//       second push (which would corrupt next) and stays set until a writer
//       pops it. So the writer's cost is bounded by parks, not publishes:
//       while no reader is queued a publish pays one load of sleepers; each
//       park costs one later publish a swap and one token. A reader that
//       pushed itself and then found a value (it never slept) costs only a
//       token in its channel's buffer, no goroutine wake-up.
//   P3. The spin and yield phases read only the cursor and the closed flags,
//       so they need no protocol with the writer; a reader leaves them on any
//       sign of progress and looks again (spurious returns are allowed).
//   P4. Tokens left in a reader's channel only cause a spurious return, after
//       which the reader looks again.
//   P5. A nap ends at Close. Ring.Close, after setting closedBit, sends every
//       registered reader a token; a napper drains its channel before its
//       last check of the cursor, so either the check sees closedBit or the
//       token arrives during the nap. Reader.Close closes done, which the nap
//       watches.
//   P6. A nap ends once napFor's worth of values came, and before the ring
//       overruns the napper. Before its last check the napper pushes itself
//       onto the ring's stack of nappers (P8) and lowers the ring's napWake
//       (a compare-and-swap minimum) to the sequence its pace brings in
//       napFor, at most half a ring past its position; the writer, after
//       storing the cursor, loads napWake, and once the cursor reaches it
//       resets it and then takes the stack (wakeNappers). As in P1, either
//       the writer's load sees the napper's bound, and the stack it takes
//       after that holds the napper (or an earlier take woke it), or the
//       napper's check sees the cursor past its position. A napper whose
//       higher bound lost the minimum is woken with the others. The reset
//       comes first so that a napper that lowers the bound after it leaves
//       its bound for a later publish instead of being forgotten.
//   P8. The writer wakes one napper per bound reached, not every napper:
//       it takes the stack, hands all but its top reader over (handedOff),
//       and sends the top one a token. A napper, once its nap ends (by token,
//       timer, Close or its context) and before it begins one, takes the
//       hand-off and sends those readers theirs. So the writer pays one token
//       per nap round however many readers nap, and the wake-ups land on the
//       readers' processors. The top reader may not be napping (its nap ended
//       on its timer and it kept reading); then the writer wakes the rest
//       itself. napping says which, with the pair
//         writer: store handedOff; load the top reader's napping
//         napper: clear napping;   load handedOff
//       so, as in P1, either the writer sees the napper still napping (and
//       the napper's load, after its nap, finds the hand-off), or the napper's
//       load came first and the writer wakes the rest. A hand-off nobody took
//       by the next round is woken by the writer then. Links follow P2:
//       napQueued guards the push, a waker reads napNext before it clears
//       napQueued, and stale tokens only cause spurious returns (P4).
//   P7. Pacing. A solo Adaptive reader that keeps finding only a few values
//       ready (fewer than paceTarget, or half its batch) spins a while
//       (pace, doubling up to paceMax, about two microseconds) before its next
//       cursor load, so that it finds a batch instead of polling the
//       cursor's cache line between every two commits, which makes each
//       commit take that line back from the reader's core. It never paces
//       once it found nothing (it then waits as in P3), after a lag or any
//       other error, or while behind (a full batch): it resets to no pace.
//       Pacing delays a value by at most paceMax, and only while values come
//       faster than the reader asks for them; it only delays a load, so it
//       needs no protocol with the writer (as P3).

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// WaitStrategy is how a reader waits for the writer.
type WaitStrategy uint8

const (
	// Blocking parks the reader as soon as it finds nothing: no CPU while
	// idle, but every value that arrives after it parked costs the writer a
	// goroutine wake-up, and a reader that keeps up parks after each value.
	Blocking WaitStrategy = iota
	// Yielding polls the cursor and calls runtime.Gosched between polls:
	// lower latency than Blocking, but it uses a core while idle.
	Yielding
	// BusySpin polls the cursor without yielding: the lowest latency, for a
	// reader that owns a core. With more spinning readers than cores it
	// collapses; never use it on a shared or small machine.
	BusySpin
	// Adaptive polls briefly, then spins or yields for a few microseconds
	// (longer for a reader with a core of its own whose values come
	// microseconds apart), then parks: a busy reader never parks and costs
	// the writer nothing, an idle one uses no CPU. When the ring has at
	// least GOMAXPROCS readers, a reader whose values come at a steady
	// modest pace naps as under Sleeping instead of parking after each one.
	// A solo reader whose values stream in faster than it asks for them
	// waits up to about two microseconds between looks at the writer's cursor,
	// so that it takes them in batches and the writer does not pay a
	// cache-line transfer per value.
	// The default, and the right choice whenever goroutines may outnumber
	// cores.
	Adaptive
	// Sleeping is Adaptive for a reader that can wait up to about a
	// millisecond for its values, even with a core of its own: while values
	// keep coming at a pace the ring absorbs, it naps instead of parking
	// until about half a millisecond's worth came, and reads them in one
	// batch, so at a steady modest rate it costs far less CPU per value than
	// a reader woken for each one. An idle reader parks.
	Sleeping
)

// The phases of Adaptive and Sleeping (measured in docs/ring.md against other
// bounds).
const (
	// spinChecks bounds the polls before anything else: a few hundred
	// nanoseconds, enough to catch a writer in the middle of a burst.
	spinChecks = 64
	// yieldChecks and yieldFor bound the crowded yield phase from below: a
	// reader parks once it has yielded at least yieldChecks times (about
	// what one park and wake-up cost on a crowded core) and for at least
	// yieldFor (values a few microseconds apart never cost a park).
	yieldChecks = 2
	yieldFor    = 5 * time.Microsecond
	// soloSpinFor is how long a solo reader polls before it parks, and
	// fastSpinFor how long a solo reader polls, or a crowded one yields,
	// when its last values came at most fastGap apart:
	// long enough to ride out a writer's hiccup, short enough that a reader
	// whose rate drops parks within a millisecond.
	soloSpinFor = 5 * time.Microsecond
	fastSpinFor = time.Millisecond
	fastGap     = 5 * time.Microsecond
	// soloYieldEvery is how often a spinning solo reader yields, in case the
	// writer or another goroutine waits for its processor.
	soloYieldEvery = 20 * time.Microsecond
	// napBudget: a Sleeping reader naps only if, at its recent pace, the
	// writer fills at most a quarter of the ring in napBudget (P6 wakes it
	// at half a ring anyway).
	napBudget = 2 * time.Millisecond
)

// Pacing (P7), in iterations of spinDelay's empty loop (about a cycle each):
// paceMax is about two microseconds on current cores, and paceStep the first
// step. paceTarget is a batch worth finding: it spreads the cursor's
// cache-line transfers over that many commits. paceMax bounds what pacing
// adds to a value's latency. Longer caps let the reader find more values per
// load, which matters most where the reader's core is far from the writer's
// (another chiplet or socket: a line's round trip costs hundreds of
// nanoseconds there); the cap is where the gain flattened (docs/ring.md,
// seventh pass).
const (
	paceStep   = 16
	paceMax    = 8192
	paceTarget = 32
)

// napFor is how long a Sleeping reader means to nap: until its pace brings
// napFor's worth of values (P6). napLimit bounds a nap whose values stop
// coming. Variables so that tests can make a nap outlast them.
var (
	napFor   = 500 * time.Microsecond
	napLimit = 2 * time.Millisecond
)

// noNapWake is napWake when no reader naps (P6).
const noNapWake = ^uint64(0)

func (ws WaitStrategy) valid() bool { return ws <= Sleeping }

func (ws WaitStrategy) String() string {
	switch ws {
	case Blocking:
		return "blocking"
	case Yielding:
		return "yielding"
	case BusySpin:
		return "busy-spin"
	case Adaptive:
		return "adaptive"
	case Sleeping:
		return "sleeping"
	}
	return fmt.Sprintf("WaitStrategy(%d)", uint8(ws))
}

// ParseWaitStrategy returns the strategy named by String.
func ParseWaitStrategy(s string) (WaitStrategy, error) {
	for ws := Blocking; ws <= Sleeping; ws++ {
		if ws.String() == s {
			return ws, nil
		}
	}
	return 0, fmt.Errorf("ring: unknown wait strategy %q (want adaptive, sleeping, blocking, yielding or busy-spin)", s)
}

// waitState is what Adaptive and Sleeping remember between waits, allocated
// at a reader's first wait: where and when the last wait began, and the last
// park ended, for the reader's pace, and Sleeping's timer, all the owner's
// alone; and the links of the ring's stack of nappers (P8), which follow the
// protocol of the sleepers' (P2).
type waitState[T any] struct {
	pace      int // P7: spinDelay iterations before the next cursor load; 0 when not pacing
	seq       uint64
	at        time.Time
	wokeSeq   uint64
	woke      time.Time // zero once the first wait after the park looked at it
	timer     *time.Timer
	napQueued atomic.Bool // on ring.nappers, or on a list taken from it not yet woken
	napNext   *Reader[T]  // below this reader on ring.nappers
	napping   atomic.Bool // in nap: it will wake the hand-off when its nap ends (P8)
}

// waitFor returns when seq may be published, the ring or reader is closed, or
// ctx is done (then with ctx.Err()). Spurious returns are allowed: the caller
// looks again.
func (rd *Reader[T]) waitFor(ctx context.Context, seq uint64) error {
	switch rd.wait {
	case Blocking:
		return rd.park(ctx, seq)
	case Adaptive, Sleeping:
		return rd.backOff(ctx, seq)
	}
	done := ctx.Done()
	for i := 0; ; i++ {
		if rd.ready(seq) {
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

// pace delays a read that will load the cursor while the reader is pacing
// (P7).
func (rd *Reader[T]) pace() {
	if w := rd.waits; w != nil && w.pace > 0 && rd.pos > rd.avail {
		spinDelay(w.pace)
	}
}

// paced sets the pace after a read of n values into a buffer of size: more
// while the reader finds only a few ready, none once it found nothing, was
// overrun or is behind (P7).
func (rd *Reader[T]) paced(n, size int, err error) {
	w := rd.waits
	if w == nil { // not Adaptive or Sleeping, or it never waited yet
		return
	}
	switch {
	case err != nil || n == size:
		w.pace = 0
	case n < min(paceTarget, size/2) && rd.wait == Adaptive && rd.ring.Readers() < rd.ring.procs:
		w.pace = min(2*w.pace+paceStep, paceMax)
	}
}

// spinDelay spins for about n cycles without touching memory. Not inlined,
// so that the compiler keeps the empty loop.
//
//go:noinline
func spinDelay(n int) {
	for i := 0; i < n; i++ {
	}
}

// ready reports whether a wait for seq is over: seq is published, or the ring
// (whose cursor word then has closedBit set, so compares above any seq) or
// the reader is closed.
func (rd *Reader[T]) ready(seq uint64) bool {
	return rd.ring.cursor.Load() >= seq || rd.closed.Load()
}

// backOff is Adaptive and Sleeping: spin, then nap, spin on or yield, then
// park (P3).
func (rd *Reader[T]) backOff(ctx context.Context, seq uint64) error {
	for range spinChecks {
		if rd.ready(seq) {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := rd.waits
	if w == nil {
		w = &waitState[T]{}
		rd.waits = w
	}
	now := time.Now()
	took, since := seq-w.seq, now.Sub(w.at) // the reader's pace since its last wait
	if w.at.IsZero() {
		took = 0 // no pace yet
	}
	if !w.woke.IsZero() { // the first wait since a park
		if seq-w.wokeSeq > 1 { // a burst: its own pace
			took, since = seq-w.wokeSeq, now.Sub(w.woke)
		}
		w.woke = time.Time{}
	}
	w.seq, w.at = seq, now
	solo := rd.ring.Readers() < rd.ring.procs
	// In floating point: a pause of hours times a large ring overflows uint64.
	// want is the values napFor brings at this pace (nap caps them at half a
	// ring); a nap that would end after one value saves no wake-up, and
	// costs a timer, so such a reader waits as if it did not nap.
	want := float64(took) * float64(napFor) / float64(max(since, 1))
	if (rd.wait == Sleeping || !solo) && want >= 2 &&
		float64(took)*float64(napBudget) <= float64(since)*float64(rd.ring.capacity/4) {
		return rd.nap(ctx, seq, w, uint64(min(want, float64(rd.ring.capacity))))
	}
	// A busy reader (its last values came at most fastGap apart) polls or
	// yields for up to fastSpinFor before it parks, solo or crowded.
	busy := took > 0 && since <= time.Duration(took)*fastGap
	if solo {
		spin := soloSpinFor
		if busy {
			spin = fastSpinFor
		}
		if rd.spin(ctx, seq, now, spin) {
			return nil
		}
		return rd.parkPaced(ctx, seq, w)
	}
	yield := yieldFor
	if busy {
		yield = fastSpinFor
	}
	for i := 1; ; i++ {
		runtime.Gosched()
		if rd.ready(seq) {
			return nil
		}
		if i >= yieldChecks && time.Since(now) >= yield {
			return rd.parkPaced(ctx, seq, w)
		}
	}
}

// spin polls for seq until d has passed since start, yielding every
// soloYieldEvery; it reports whether the wait is over.
func (rd *Reader[T]) spin(ctx context.Context, seq uint64, start time.Time, d time.Duration) bool {
	done := ctx.Done()
	yielded := time.Duration(0)
	for i := 1; ; i++ {
		if rd.ready(seq) {
			return true
		}
		if i&63 != 0 {
			continue
		}
		t := time.Since(start)
		if t >= d {
			return false
		}
		if t-yielded >= soloYieldEvery {
			runtime.Gosched()
			yielded = t
			if done != nil {
				select {
				case <-done:
					return true // the caller looks again and returns ctx.Err()
				default:
				}
			}
		}
	}
}

// parkPaced parks, and then notes when and where the reader woke, for the
// pace of its next wait.
func (rd *Reader[T]) parkPaced(ctx context.Context, seq uint64, w *waitState[T]) error {
	err := rd.park(ctx, seq)
	w.wokeSeq, w.woke = seq, time.Now()
	return err
}

// park sleeps until the writer publishes past seq-1, the ring or the reader
// is closed, or ctx is done.
func (rd *Reader[T]) park(ctx context.Context, seq uint64) error {
	r := rd.ring
	select { // a token from an earlier wake-up; the check below covers it
	case <-rd.wake:
	default:
	}
	if !rd.queued.Swap(true) {
		for {
			head := r.sleepers.Load()
			rd.next = head
			if r.sleepers.CompareAndSwap(head, rd) {
				break
			}
		}
	}
	if rd.ready(seq) { // P1
		return nil
	}
	select {
	case <-rd.wake:
		return nil
	case <-rd.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nap is Sleeping's wait: until about want values came after seq-1 or half
// the ring did (a token, P6), Close (P5), napLimit has passed, the reader is
// closed or ctx is done.
func (rd *Reader[T]) nap(ctx context.Context, seq uint64, w *waitState[T], want uint64) error {
	r := rd.ring
	// P8: before this reader sleeps too (it may be on the list).
	r.wakeHandedOff()
	select { // a token from an earlier wake-up; the check below covers it
	case <-rd.wake:
	default:
	}
	w.napping.Store(true) // P8: from here on it wakes what is handed off when it wakes
	err := rd.sleepFor(ctx, seq, w, want)
	w.napping.Store(false)
	r.wakeHandedOff() // P8
	return err
}

// sleepFor is the nap itself: it registers the napper (P6, P8) and sleeps.
func (rd *Reader[T]) sleepFor(ctx context.Context, seq uint64, w *waitState[T], want uint64) error {
	r := rd.ring
	rd.pushNapper(w)
	r.lowerNapWake(seq - 1 + min(max(want, 1), r.capacity/2))
	if rd.ready(seq) { // P5, P6
		return nil
	}
	if w.timer == nil {
		w.timer = time.NewTimer(napLimit)
	} else {
		w.timer.Reset(napLimit)
	}
	select {
	case <-w.timer.C:
	case <-rd.wake:
	case <-rd.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// wakeAll takes every queued reader off the stack and sends each a token.
func (r *Ring[T]) wakeAll() {
	for rd := r.sleepers.Swap(nil); rd != nil; {
		next := rd.next // before queued is cleared: then rd may push itself again
		rd.next = nil
		rd.queued.Store(false)
		rd.token()
		rd = next
	}
}

// pushNapper puts rd on the ring's stack of nappers unless it is there
// already (P8).
func (rd *Reader[T]) pushNapper(w *waitState[T]) {
	if w.napQueued.Swap(true) {
		return
	}
	r := rd.ring
	for {
		head := r.nappers.Load()
		w.napNext = head
		if r.nappers.CompareAndSwap(head, rd) {
			return
		}
	}
}

// lowerNapWake lowers napWake to bound if it is higher (P6).
func (r *Ring[T]) lowerNapWake(bound uint64) {
	for t := r.napWake.Load(); bound < t && !r.napWake.CompareAndSwap(t, bound); t = r.napWake.Load() {
	}
}

// wakeNappers runs once the cursor reached napWake's bound (P6): it resets the
// bound, takes the stack of nappers, and wakes the first, handing it the rest
// to wake (P8).
func (r *Ring[T]) wakeNappers(bound uint64) {
	// A napper lowers the bound only below the one it found, so one that
	// lowered it meanwhile is due as well.
	for !r.napWake.CompareAndSwap(bound, noNapWake) {
		bound = r.napWake.Load()
	}
	first := r.nappers.Swap(nil)
	if first == nil {
		return
	}
	rest := unlinkNapper(first)
	if late := r.handedOff.Swap(rest); late != nil {
		wakeNapperList(late) // nobody woke since the last hand-off
	}
	if rest != nil && !first.waits.napping.Load() {
		r.wakeHandedOff() // the first is not napping: it may not wait again for long
	}
	first.token()
}

// wakeHandedOff wakes the nappers the writer handed off, if any (P8).
func (r *Ring[T]) wakeHandedOff() {
	if r.handedOff.Load() != nil {
		wakeNapperList(r.handedOff.Swap(nil))
	}
}

// wakeNapperList sends each reader of a list taken from ring.nappers a token.
func wakeNapperList[T any](rd *Reader[T]) {
	for rd != nil {
		next := unlinkNapper(rd)
		rd.token()
		rd = next
	}
}

// unlinkNapper takes rd off a list taken from ring.nappers and returns the
// reader below it. It reads the link before it clears napQueued: from then
// on rd may push itself again (P2, P8).
func unlinkNapper[T any](rd *Reader[T]) *Reader[T] {
	w := rd.waits
	next := w.napNext
	w.napNext = nil
	w.napQueued.Store(false)
	return next
}

// token wakes rd if it parks or naps. A send never blocks: the channel has
// one slot, and one token is enough (P4).
func (rd *Reader[T]) token() {
	select {
	case rd.wake <- struct{}{}:
	default:
	}
}
