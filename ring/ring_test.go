package ring_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ringcast/ringcast/ring"
)

func newRing[T any](t *testing.T, capacity int, opts ...ring.Option) *ring.Ring[T] {
	t.Helper()
	r, err := ring.New[T](capacity, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRoundsCapacityUp(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{1, 1}, {2, 2}, {3, 4}, {1000, 1024}, {1024, 1024}} {
		if got := newRing[int](t, tc.in).Cap(); got != tc.want {
			t.Errorf("New(%d).Cap() = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, c := range []int{0, -1, 1<<30 + 1} {
		if _, err := ring.New[int](c); err == nil {
			t.Errorf("New(%d) succeeded", c)
		}
	}
	if _, err := ring.New[int](8, ring.WithWaitStrategy(ring.WaitStrategy(9))); err == nil {
		t.Error("New with an unknown wait strategy succeeded")
	}
}

func TestSequencesStartAtOneAndIncrease(t *testing.T) {
	r := newRing[string](t, 4)
	if r.Cursor() != 0 || r.Oldest() != 1 {
		t.Fatalf("empty ring: Cursor=%d Oldest=%d, want 0 and 1", r.Cursor(), r.Oldest())
	}
	for i, want := range []uint64{1, 2, 3} {
		if got := r.Publish("v"); got != want {
			t.Fatalf("publish %d: seq %d, want %d", i, got, want)
		}
	}
	if got := r.PublishBatch([]string{"a", "b", "c"}); got != 6 {
		t.Fatalf("PublishBatch returned %d, want 6", got)
	}
	// Four values per page, two pages: the ring holds the page being filled
	// (5, 6) and one full page (1..4).
	if r.Cursor() != 6 || r.Oldest() != 1 {
		t.Fatalf("Cursor=%d Oldest=%d, want 6 and 1", r.Cursor(), r.Oldest())
	}
	if got := r.PublishBatch(nil); got != 0 {
		t.Fatalf("empty PublishBatch returned %d, want 0", got)
	}
}

func TestSubscribeSeesOnlyLaterValues(t *testing.T) {
	r := newRing[int](t, 8)
	r.Publish(1)
	r.Publish(2)
	rd := r.Subscribe()
	defer rd.Close()
	if _, err := rd.TryNext(); err != ring.ErrEmpty {
		t.Fatalf("TryNext on a fresh reader: %v, want ErrEmpty", err)
	}
	r.Publish(3)
	v, err := rd.TryNext()
	if err != nil || v != 3 || rd.Position() != 4 {
		t.Fatalf("TryNext = %d, %v (position %d), want 3, nil, 4", v, err, rd.Position())
	}
}

func TestSubscribeFrom(t *testing.T) {
	r := newRing[int](t, 4)
	for i := 1; i <= 10; i++ {
		r.Publish(i * 10)
	} // holds 5..10: the page being filled (9, 10) and a full one (5..8)
	rd, err := r.SubscribeFrom(8)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	buf := make([]int, 8)
	n, err := rd.TryNextBatch(buf)
	if err != nil || n != 3 || buf[0] != 80 || buf[2] != 100 {
		t.Fatalf("replay = %v, %v; want [80 90 100]", buf[:n], err)
	}

	next, err := r.SubscribeFrom(11) // the next one: same as Subscribe
	if err != nil {
		t.Fatalf("SubscribeFrom(Cursor+1): %v", err)
	}
	next.Close()

	for _, seq := range []uint64{0, 4, 12} {
		_, err := r.SubscribeFrom(seq)
		var re *ring.RangeError
		if !errors.Is(err, ring.ErrOutOfRange) || !errors.As(err, &re) {
			t.Fatalf("SubscribeFrom(%d) = %v, want a *RangeError", seq, err)
		}
		if re.Oldest != 5 || re.Newest != 10 || re.Requested != seq {
			t.Fatalf("SubscribeFrom(%d): %+v, want oldest 5 newest 10", seq, re)
		}
	}
}

func TestLagReportsExactMissedCount(t *testing.T) {
	r := newRing[int](t, 4)
	rd := r.Subscribe()
	defer rd.Close()
	for i := 1; i <= 11; i++ {
		r.Publish(i)
	} // holds 5..11; the reader wanted 1
	if rd.Lag() != 11 || r.MaxLag() != 11 {
		t.Fatalf("Lag=%d MaxLag=%d, want 11", rd.Lag(), r.MaxLag())
	}
	_, err := rd.TryNext()
	var le *ring.LagError
	if !errors.Is(err, ring.ErrLagged) || !errors.As(err, &le) {
		t.Fatalf("TryNext = %v, want a *LagError", err)
	}
	if le.Missed != 4 || le.Resume != 5 {
		t.Fatalf("LagError = %+v, want Missed 4 Resume 5", le)
	}
	for want := 5; want <= 11; want++ {
		if v, err := rd.TryNext(); err != nil || v != want {
			t.Fatalf("after lag: %d, %v; want %d", v, err, want)
		}
	}
}

// A ring's headroom is its readers' default; a reader's own overrides it,
// and headroom is at most Cap().
func TestLagHeadroom(t *testing.T) {
	r := newRing[int](t, 4, ring.WithLagHeadroom(2))
	def := r.Subscribe()
	defer def.Close()
	none := r.Subscribe(ring.WithLagHeadroom(0))
	defer none.Close()
	far := r.Subscribe(ring.WithLagHeadroom(1000))
	defer far.Close()
	for i := 1; i <= 11; i++ {
		r.Publish(i)
	} // holds 5..11
	for _, c := range []struct {
		rd             *ring.Reader[int]
		missed, resume uint64
	}{{def, 6, 7}, {none, 4, 5}, {far, 8, 9}} {
		_, err := c.rd.TryNext()
		le, ok := err.(*ring.LagError)
		if !ok || le.Missed != c.missed || le.Resume != c.resume {
			t.Errorf("got %v, want a lag of %d resuming at %d", err, c.missed, c.resume)
			continue
		}
		if v, err := c.rd.TryNext(); err != nil || v != int(c.resume) {
			t.Errorf("after the lag: %d, %v; want %d", v, err, c.resume)
		}
	}
	if _, err := ring.New[int](4, ring.WithLagHeadroom(-1)); err == nil {
		t.Error("New accepted a negative headroom")
	}
}

// A batch that runs into values overwritten since the cursor was read
// returns what it got and reports the lag on the next call.
func TestBatchStopsAtLag(t *testing.T) {
	r := newRing[int](t, 4)
	rd := r.Subscribe()
	defer rd.Close()
	r.PublishBatch([]int{1, 2, 3, 4})
	buf := make([]int, 2)
	if n, err := rd.TryNextBatch(buf); n != 2 || err != nil {
		t.Fatalf("first batch: %d, %v", n, err)
	}
	r.PublishBatch([]int{5, 6, 7, 8, 9, 10, 11, 12, 13}) // the ring now holds 9..13: 3..8 are gone
	_, err := rd.TryNextBatch(buf)
	var le *ring.LagError
	if !errors.As(err, &le) || le.Missed != 6 || le.Resume != 9 {
		t.Fatalf("second batch: %v, want a lag of 6 resuming at 9", err)
	}
	n, err := rd.TryNextBatch(make([]int, 10))
	if n != 5 || err != nil {
		t.Fatalf("third batch: %d, %v; want 5 values", n, err)
	}
}

func TestPublishBatchLargerThanRing(t *testing.T) {
	r := newRing[int](t, 4)
	rd := r.Subscribe()
	defer rd.Close()
	vs := make([]int, 10)
	for i := range vs {
		vs[i] = i + 1
	}
	if last := r.PublishBatch(vs); last != 10 {
		t.Fatalf("last = %d", last)
	}
	_, err := rd.TryNext()
	var le *ring.LagError
	if !errors.As(err, &le) || le.Missed != 4 {
		t.Fatalf("err = %v, want a lag of 4", err)
	}
	for want := 5; want <= 10; want++ {
		if v, err := rd.TryNext(); v != want || err != nil {
			t.Fatalf("got %d, %v; want %d", v, err, want)
		}
	}
}

func TestCloseDrainsThenErrClosed(t *testing.T) {
	r := newRing[int](t, 8)
	rd := r.Subscribe()
	defer rd.Close()
	r.Publish(1)
	r.Publish(2)
	r.Close()
	r.Close() // idempotent
	if seq := r.Publish(3); seq != 0 {
		t.Fatalf("Publish after Close returned %d, want 0", seq)
	}
	ctx := context.Background()
	for want := 1; want <= 2; want++ {
		if v, err := rd.Next(ctx); v != want || err != nil {
			t.Fatalf("drain: %d, %v; want %d", v, err, want)
		}
	}
	if _, err := rd.Next(ctx); err != ring.ErrClosed {
		t.Fatalf("after drain: %v, want ErrClosed", err)
	}
}

func TestNextHonoursContext(t *testing.T) {
	for _, ws := range []ring.WaitStrategy{ring.Adaptive, ring.Sleeping, ring.Blocking, ring.Yielding, ring.BusySpin} {
		t.Run(ws.String(), func(t *testing.T) {
			r := newRing[int](t, 8, ring.WithWaitStrategy(ws))
			rd := r.Subscribe()
			defer rd.Close()
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := rd.Next(ctx)
				errc <- err
			}()
			cancel()
			if err := <-errc; err != context.Canceled {
				t.Fatalf("Next = %v, want context.Canceled", err)
			}
		})
	}
}

// Each wait strategy delivers a value published while the reader waits.
func TestWaitStrategiesWake(t *testing.T) {
	for _, ws := range []ring.WaitStrategy{ring.Adaptive, ring.Sleeping, ring.Blocking, ring.Yielding, ring.BusySpin} {
		t.Run(ws.String(), func(t *testing.T) {
			r := newRing[int](t, 8)
			rd := r.Subscribe(ring.WithWaitStrategy(ws))
			defer rd.Close()
			got := make(chan int, 1)
			go func() {
				v, err := rd.Next(context.Background())
				if err != nil {
					t.Error(err)
				}
				got <- v
			}()
			r.Publish(42)
			select {
			case v := <-got:
				if v != 42 {
					t.Fatalf("got %d", v)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("reader never woke")
			}
		})
	}
}

func TestCloseReaderUnblocksNext(t *testing.T) {
	r := newRing[int](t, 8)
	rd := r.Subscribe()
	errc := make(chan error, 1)
	go func() {
		_, err := rd.Next(context.Background())
		errc <- err
	}()
	rd.Close()
	if err := <-errc; err != ring.ErrClosed {
		t.Fatalf("Next after reader Close = %v, want ErrClosed", err)
	}
	if r.Readers() != 0 {
		t.Fatalf("Readers() = %d after Close, want 0", r.Readers())
	}
	rd.Close() // idempotent
}

func TestCloseRingWakesEveryParkedReader(t *testing.T) {
	r := newRing[int](t, 8)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		rd := r.Subscribe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rd.Close()
			_, err := rd.Next(context.Background())
			errs <- err
		}()
	}
	r.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != ring.ErrClosed {
			t.Fatalf("Next = %v, want ErrClosed", err)
		}
	}
}

func TestReadersAndLag(t *testing.T) {
	r := newRing[int](t, 16)
	a, b := r.Subscribe(), r.Subscribe()
	if r.Readers() != 2 {
		t.Fatalf("Readers() = %d", r.Readers())
	}
	r.PublishBatch([]int{1, 2, 3})
	a.TryNextBatch(make([]int, 1)) // TryNext would take all three ahead
	if a.Lag() != 2 || b.Lag() != 3 || r.MaxLag() != 3 {
		t.Fatalf("lags a=%d b=%d max=%d, want 2 3 3", a.Lag(), b.Lag(), r.MaxLag())
	}
	a.Close()
	b.Close()
	if r.Readers() != 0 || r.MaxLag() != 0 {
		t.Fatalf("after Close: Readers=%d MaxLag=%d", r.Readers(), r.MaxLag())
	}
}

func TestParseWaitStrategy(t *testing.T) {
	for _, ws := range []ring.WaitStrategy{ring.Adaptive, ring.Sleeping, ring.Blocking, ring.Yielding, ring.BusySpin} {
		got, err := ring.ParseWaitStrategy(ws.String())
		if err != nil || got != ws {
			t.Fatalf("ParseWaitStrategy(%q) = %v, %v", ws, got, err)
		}
	}
	if _, err := ring.ParseWaitStrategy("spin"); err == nil {
		t.Fatal("ParseWaitStrategy accepted an unknown name")
	}
}

// In steady state Publish allocates nothing, and neither does reading.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	r := newRing[string](t, 64)
	rd := r.Subscribe()
	defer rd.Close()
	buf := make([]string, 16)
	for range 4 * 64 { // first laps allocate the boxes
		r.Publish("x")
		rd.TryNextBatch(buf)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		r.Publish("payload")
		if _, err := rd.TryNext(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Publish+TryNext allocated %.2f times per run, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() {
		r.PublishBatch(buf[:8])
		if n, err := rd.TryNextBatch(buf); n != 8 || err != nil {
			t.Fatal(n, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("PublishBatch+TryNextBatch allocated %.2f times per run, want 0", allocs)
	}
}
