package ring

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// wakeCost publishes n values, value i gap(i) after the one before
// (busy-waiting, so the spacing does not depend on the timer's resolution),
// to one reader using ws, on a
// ring with idle further readers registered (they never wait, so they are
// never woken), and returns how many publishes found a parked reader to wake
// (P2: the writer's only wake-up cost).
func wakeCost(t *testing.T, ws WaitStrategy, n int, gap func(int) time.Duration, idle int) int {
	r, err := New[int](1024, WithWaitStrategy(ws))
	if err != nil {
		t.Fatal(err)
	}
	for range idle {
		defer r.Subscribe().Close()
	}
	rd := r.Subscribe()
	done := readUntilClosed(rd)
	wakes := 0
	for i := range n {
		for start, d := time.Now(), gap(i); time.Since(start) < d; {
			runtime.Gosched() // as a paced writer would: a reader may share its core
		}
		if r.sleepers.Load() != nil {
			wakes++
		}
		r.Publish(i)
	}
	r.Close()
	<-done
	return wakes
}

// readUntilClosed reads rd and drops its values until the ring closes; the
// channel it returns is closed once it stops.
func readUntilClosed(rd *Reader[int]) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rd.Close()
		for {
			if _, err := rd.Next(context.Background()); err == ErrClosed {
				return
			}
		}
	}()
	return done
}

// A reader that keeps up with values microseconds apart never parks under
// Adaptive, so the writer pays no wake-ups; under Blocking it parks after
// nearly every value (the contrast shows the measure can fail).
func TestAdaptiveBusyReaderDoesNotPark(t *testing.T) {
	fewWakes(t, Adaptive, 5000, time.Microsecond, 0) // well inside spinChecks + yieldChecks polls
}

// With at least GOMAXPROCS readers an Adaptive reader fed values tens of
// microseconds apart naps instead of parking after each one, as Sleeping
// does; the same crowded reader under Blocking parks after every value.
func TestAdaptiveCrowdedReaderNaps(t *testing.T) {
	fewWakes(t, Adaptive, 2000, 50*time.Microsecond, runtime.GOMAXPROCS(0))
}

// A crowded Adaptive reader whose values come microseconds apart rides out
// the writer's pauses (here 100 µs after every 20 values) by yielding for up
// to fastSpinFor instead of parking after each burst (which would cost the
// writer a wake-up each time); under Blocking it parks at least once a burst.
// Quiet, it parks after fewer than one burst in twenty; the bound is three
// in four because CI's load and the race detector stretch a reader's pace
// past fastGap now and then (half the bursts in one run), while a reader
// that parks at every pause parks after nearly all.
func TestAdaptiveBusyCrowdedReaderRidesOutPauses(t *testing.T) {
	const bursts, per = 200, 20
	gap := func(i int) time.Duration {
		if i%per == 0 {
			return 100 * time.Microsecond
		}
		return time.Microsecond
	}
	idle := runtime.GOMAXPROCS(0)
	got := wakeCost(t, Adaptive, bursts*per, gap, idle)
	blocking := wakeCost(t, Blocking, bursts*per, gap, idle)
	t.Logf("%d bursts: adaptive woke %d times, blocking %d", bursts, got, blocking)
	if got > bursts*3/4 {
		t.Errorf("adaptive: %d wake-ups over %d bursts, want at most %d", got, bursts, bursts*3/4)
	}
	if blocking < bursts/2 {
		t.Errorf("blocking: only %d wake-ups over %d bursts; the measure is broken", blocking, bursts)
	}
}

// A crowded Adaptive reader woken from an idle park that finds more than
// the value that woke it measures its pace from the wake-up: the burst (512
// values at once, after 20 ms idle) is fast, so it yields and then parks,
// and does not nap. Measured across the
// idle spell the same burst looks like a trickle (512 values in 20 ms) and
// the reader naps, which leaves napWake set (P6).
func TestAdaptiveReaderWokenFromIdleDoesNotNap(t *testing.T) {
	r, err := New[int](1024)
	if err != nil {
		t.Fatal(err)
	}
	for range runtime.GOMAXPROCS(0) { // crowded: never read, never wait
		defer r.Subscribe().Close()
	}
	rd := r.Subscribe()
	done := readUntilClosed(rd)
	for r.sleepers.Load() == nil { // idle: it parks
		time.Sleep(time.Millisecond) // polling a condition, not standing in for one
	}
	time.Sleep(20 * time.Millisecond) // the idle spell itself
	r.PublishBatch(make([]int, 512))
	// The reader takes the burst, then waits: it parks again (sleepers) or
	// naps (napWake stays lowered until a publish reaches it).
	for r.sleepers.Load() == nil && r.napWake.Load() == noNapWake {
		time.Sleep(100 * time.Microsecond) // polling a condition
	}
	if w := r.napWake.Load(); w != noNapWake {
		t.Errorf("the reader napped after the burst that woke it (napWake %d): its pace spanned the idle spell", w)
	}
	r.Close()
	<-done
}

// fewWakes checks that a reader using ws, fed n values gap apart on a ring
// with idle further readers, is found parked by at most three quarters as
// many publishes as the same reader under Blocking (a quiet machine gives a
// few in a thousand; with two busy loops per core beside the race detector,
// up to 55%), which must park for at least
// one in twenty (else the measure is broken: under load the paced writer
// falls behind and a Blocking reader finds values waiting more often than
// not, and at 1 µs gaps it parked for 678 of 5000). A relative bound, because a
// loaded machine (CI runs packages in parallel) deschedules the reader's
// thread and makes any strategy park now and then, far more often than on a
// quiet one.
func fewWakes(t *testing.T, ws WaitStrategy, n int, gap time.Duration, idle int) {
	t.Helper()
	every := func(int) time.Duration { return gap }
	got := wakeCost(t, ws, n, every, idle)
	blocking := wakeCost(t, Blocking, n, every, idle)
	t.Logf("publishes %v apart that woke a reader (%d idle readers besides): %v %d, blocking %d of %d", gap, idle, ws, got, blocking, n)
	if got > blocking*3/4 {
		t.Errorf("%v: %d of %d publishes woke a parked reader, want at most three quarters of blocking's %d", ws, got, n, blocking)
	}
	if blocking < n/20 {
		t.Errorf("blocking: only %d of %d publishes woke a parked reader; the measure is broken", blocking, n)
	}
}

// Without values an Adaptive reader parks (and then uses no
// CPU: TestIdleReadersBurnNoCPU), and the next publish wakes it.
func TestAdaptiveIdleReaderParksAndWakes(t *testing.T) {
	r, err := New[int](8)
	if err != nil {
		t.Fatal(err)
	}
	rd := r.Subscribe()
	got := make(chan int)
	go func() {
		defer rd.Close()
		for {
			v, err := rd.Next(context.Background())
			if err == ErrClosed {
				close(got)
				return
			}
			got <- v
		}
	}()
	for r.sleepers.Load() == nil { // parks after its polls and yields
		time.Sleep(time.Millisecond) // polling a condition, not standing in for one
	}
	r.Publish(7)
	if v := <-got; v != 7 {
		t.Fatalf("got %d, want 7", v)
	}
	r.Close()
	if _, ok := <-got; ok {
		t.Fatal("value after Close")
	}
}

// A Sleeping reader that keeps up with values tens of microseconds apart
// naps instead of parking, so the writer finds it parked almost never; the
// same reader under Blocking parks after every value.
func TestSleepingReaderNapsInsteadOfParking(t *testing.T) {
	fewWakes(t, Sleeping, 2000, 50*time.Microsecond, 0)
}

// readAll reads rd until ErrClosed and sends each value to got, then closes
// got; errors other than ErrClosed go to errs.
func readAll(ctx context.Context, rd *Reader[int], got chan<- int, errs chan<- error) {
	defer close(got)
	for {
		v, err := rd.Next(ctx)
		if err == ErrClosed {
			return
		}
		if err != nil {
			errs <- err
			return
		}
		got <- v
	}
}

// An idle Sleeping reader parks (no timer keeps waking it), and the next
// publish wakes it.
func TestSleepingIdleReaderParksAndWakes(t *testing.T) {
	r, err := New[int](8, WithWaitStrategy(Sleeping))
	if err != nil {
		t.Fatal(err)
	}
	rd := r.Subscribe()
	defer rd.Close()
	got, errs := make(chan int), make(chan error, 1)
	go readAll(context.Background(), rd, got, errs)
	for round := range 3 {
		for r.sleepers.Load() == nil { // parks, possibly after one nap
			time.Sleep(time.Millisecond) // polling a condition, not standing in for one
		}
		r.Publish(round)
		if v := <-got; v != round {
			t.Fatalf("got %d, want %d", v, round)
		}
	}
	r.Close()
	if _, ok := <-got; ok {
		t.Fatal("value after Close")
	}
}

// A Sleeping reader whose values come further apart than napFor parks
// instead of napping: a nap that would end after one value saves no wake-up
// and costs a timer.
func TestSleepingSlowReaderParks(t *testing.T) {
	r, err := New[int](1024, WithWaitStrategy(Sleeping))
	if err != nil {
		t.Fatal(err)
	}
	rd := r.Subscribe()
	got, errs := make(chan int, 16), make(chan error, 1)
	go readAll(context.Background(), rd, got, errs)
	t.Cleanup(func() {
		rd.Close()
		for range got {
		}
	})
	for i := range 5 {
		deadline := time.Now().Add(5 * time.Second)
		for r.sleepers.Load() == nil { // a napping reader never gets here
			if time.Now().After(deadline) {
				t.Fatalf("value %d: the reader did not park (napWake %d)", i, r.napWake.Load())
			}
			runtime.Gosched()
		}
		if w := r.napWake.Load(); w != noNapWake { // a nap that its timer ended leaves its bound
			t.Fatalf("value %d: the reader napped (napWake %d)", i, w)
		}
		time.Sleep(4 * napFor) // the pace under test: a value every 4 naps or slower
		r.Publish(i)
		if v := <-got; v != i {
			t.Fatalf("got %d, want %d", v, i)
		}
	}
}

// napping starts a Sleeping reader that means to nap for d at a pace of a
// value a millisecond or slower, with a nap limit that outlasts the test, and
// returns once it naps: its values go to got.
func napping(t *testing.T, r *Ring[int], ctx context.Context, d time.Duration) (<-chan int, <-chan error) {
	t.Helper()
	savedFor, savedLimit := napFor, napLimit
	napFor, napLimit = d, time.Hour
	t.Cleanup(func() { napFor, napLimit = savedFor, savedLimit })
	rd := r.Subscribe(WithWaitStrategy(Sleeping))
	got, errs := make(chan int, 1024), make(chan error, 1)
	go readAll(ctx, rd, got, errs)
	// Before the nap's settings are restored (cleanups run last first), the
	// reader must be gone: it reads them.
	t.Cleanup(func() {
		rd.Close()
		for range got {
		}
	})
	// A first value some time after the reader's first wait gives it a slow
	// pace: its next wait is a nap (napWake drops from noNapWake).
	for r.sleepers.Load() == nil { // the first wait has no pace: it parks
		runtime.Gosched()
	}
	time.Sleep(time.Millisecond) // spaces the value from that wait: the pace under test
	r.Publish(0)
	if v := <-got; v != 0 {
		t.Fatalf("got %d, want 0", v)
	}
	for r.napWake.Load() == noNapWake {
		runtime.Gosched()
	}
	return got, errs
}

// A nap of an hour ends at once when the ring or the reader is closed or
// the reader's context ends (P5).
func TestNapEndsOnCloseAndContext(t *testing.T) {
	wait := func(what string, got <-chan int) {
		t.Helper()
		select {
		case _, ok := <-got:
			if ok {
				t.Fatalf("%s: a value, want the end", what)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the nap did not end", what)
		}
	}
	t.Run("ring.Close", func(t *testing.T) {
		r, _ := New[int](1024)
		got, _ := napping(t, r, context.Background(), time.Hour)
		r.Close()
		wait("ring.Close", got)
	})
	t.Run("ctx", func(t *testing.T) {
		r, _ := New[int](1024)
		ctx, cancel := context.WithCancel(context.Background())
		got, errs := napping(t, r, ctx, time.Hour)
		cancel()
		if err := <-errs; err != context.Canceled {
			t.Fatalf("err %v, want context.Canceled", err)
		}
		wait("ctx", got)
	})
}

// A napping reader is woken before the writer overruns it: once half the
// ring fills past its position (P6), and it then has every value.
func TestNapEndsWhenHalfTheRingFills(t *testing.T) {
	const capacity = 1024
	r, _ := New[int](capacity)
	got, errs := napping(t, r, context.Background(), time.Hour)
	publishAndReceive(t, r, got, errs, capacity/2)
}

// A nap ends once the values the reader's pace brings in napFor came (P6):
// at a value a millisecond or slower, a nap meant to last 50 ms ends after at
// most 50 values, long before its limit (an hour here) and long before half
// the ring (512).
func TestNapEndsWhenItsValuesCame(t *testing.T) {
	r, _ := New[int](1024)
	got, errs := napping(t, r, context.Background(), 50*time.Millisecond)
	publishAndReceive(t, r, got, errs, 50)
}

// publishAndReceive publishes 1..n and requires each to arrive on got.
func publishAndReceive(t *testing.T, r *Ring[int], got <-chan int, errs <-chan error, n int) {
	t.Helper()
	for i := range n {
		r.Publish(1 + i)
	}
	for i := range n {
		select {
		case v := <-got:
			if v != 1+i {
				t.Fatalf("got %d, want %d", v, 1+i)
			}
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatalf("value %d never came: the nap did not end", 1+i)
		}
	}
}

// The writer wakes one napper per bound reached and hands it the others
// (P8); a hand-off that nobody took is woken by the writer at the next round,
// and so are the others when the top reader is not napping.
// No goroutines: the readers' side of a nap is played by the test.
func TestWriterWakesOneNapperPerRound(t *testing.T) {
	r, _ := New[int](1024)
	readers := make([]*Reader[int], 8)
	for i := range readers {
		readers[i] = r.Subscribe(WithWaitStrategy(Sleeping))
		readers[i].waits = &waitState[int]{}
	}
	tokens := func() (n int) {
		for _, rd := range readers {
			n += len(rd.wake)
		}
		return n
	}
	drain := func() {
		for _, rd := range readers {
			select {
			case <-rd.wake:
			default:
			}
		}
	}
	nap := func(rds []*Reader[int], bound uint64) {
		for _, rd := range rds {
			rd.waits.napping.Store(true)
			rd.pushNapper(rd.waits)
		}
		r.lowerNapWake(bound)
	}
	publishTo := func(seq uint64) {
		for r.Cursor() < seq {
			r.Publish(0)
		}
	}

	nap(readers, 5)
	publishTo(4)
	if n := tokens(); n != 0 {
		t.Fatalf("%d tokens before the bound, want 0", n)
	}
	publishTo(5)
	if n := tokens(); n != 1 {
		t.Fatalf("round 1: %d tokens, want 1 (the writer wakes one napper)", n)
	}
	first := readers[len(readers)-1] // the last pushed is the stack's top
	if len(first.wake) != 1 {
		t.Fatal("round 1: the token did not go to the top of the stack")
	}
	if r.napWake.Load() != noNapWake || r.nappers.Load() != nil || r.handedOff.Load() == nil {
		t.Fatal("round 1: bound not reset, stack not taken or the rest not handed off")
	}

	// Nobody took the hand-off; the first napper naps again alone.
	drain()
	nap([]*Reader[int]{first}, 10)
	publishTo(10)
	if n := tokens(); n != len(readers) {
		t.Fatalf("round 2: %d tokens, want %d (the late hand-off is the writer's)", n, len(readers))
	}
	if r.handedOff.Load() != nil {
		t.Fatal("round 2: a hand-off left")
	}

	// The first napper to wake wakes the rest.
	drain()
	nap(readers, 15)
	publishTo(15)
	r.wakeHandedOff()
	if n := tokens(); n != len(readers) {
		t.Fatalf("round 3: %d tokens after the hand-off, want %d", n, len(readers))
	}
	for i, rd := range readers {
		if rd.waits.napQueued.Load() || rd.waits.napNext != nil {
			t.Fatalf("reader %d still linked after its wake-up", i)
		}
	}

	// A top reader that is not napping (its nap ended on its timer) might
	// not look at the hand-off for long: the writer wakes the rest itself.
	drain()
	nap(readers, 20)
	first.waits.napping.Store(false)
	publishTo(20)
	if n := tokens(); n != len(readers) || r.handedOff.Load() != nil {
		t.Fatalf("round 4: %d tokens, want %d from the writer", n, len(readers))
	}
}

// Every one of several napping readers is woken, with their timers out of
// play: the writer wakes one, which wakes the others (P8).
func TestEveryNapperWakes(t *testing.T) {
	const readers, want = 8, 50
	savedFor, savedLimit := napFor, napLimit
	napFor, napLimit = 50*time.Millisecond, time.Hour
	r, _ := New[int](1024)
	got := make([]chan int, readers)
	var rds []*Reader[int]
	for i := range got {
		got[i] = make(chan int, 1024)
		rd := r.Subscribe(WithWaitStrategy(Sleeping))
		rds = append(rds, rd)
		go readAll(context.Background(), rd, got[i], make(chan error, 1))
	}
	t.Cleanup(func() { // before the nap's settings are restored: the readers read them
		for i, rd := range rds {
			rd.Close()
			for range got[i] {
			}
		}
		napFor, napLimit = savedFor, savedLimit
	})
	count := func(top *Reader[int], next func(*Reader[int]) *Reader[int]) (n int) {
		for rd := top; rd != nil; rd = next(rd) {
			n++
		}
		return n
	}
	// Every reader parks first (no pace yet), then takes a value that came a
	// millisecond later: at that pace its next wait is a nap of about 50 values.
	for count(r.sleepers.Load(), func(rd *Reader[int]) *Reader[int] { return rd.next }) < readers {
		runtime.Gosched()
	}
	time.Sleep(time.Millisecond)
	r.Publish(0)
	for count(r.nappers.Load(), func(rd *Reader[int]) *Reader[int] { return rd.waits.napNext }) < readers {
		runtime.Gosched()
	}
	for i := 1; i <= want; i++ {
		r.Publish(i)
	}
	for i := range got {
		for v := 0; v <= want; v++ {
			select {
			case x := <-got[i]:
				if x != v {
					t.Fatalf("reader %d: got %d, want %d", i, x, v)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("reader %d: value %d never came: its nap did not end", i, v)
			}
		}
	}
}
