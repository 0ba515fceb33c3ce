package disruptor

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitUntil polls cond, yielding in between, until it holds; it fails the
// test after a generous deadline. It waits for a state the test can observe
// (a goroutine parked, a handler reached a sequence), never for time to pass.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
	}
}

// parked reports whether some goroutine is parked on w, a Blocking waiter.
func parked(w Waiter) bool { return w.(*blockingWaiter).parked.Load() }

func bothProducerTypes(t *testing.T, f func(t *testing.T, pt ProducerType)) {
	for _, pt := range []ProducerType{SingleProducer, MultiProducer} {
		t.Run(pt.String(), func(t *testing.T) { f(t, pt) })
	}
}

// gatedHandler blocks in OnEvent for sequence gateAt until release is
// closed, and counts finished entries.
type gatedHandler struct {
	gateAt   int64
	release  chan struct{}
	reached  atomic.Bool
	finished atomic.Int64
}

func newGated(gateAt int64) *gatedHandler {
	return &gatedHandler{gateAt: gateAt, release: make(chan struct{})}
}

func (g *gatedHandler) OnEvent(_ *event, seq int64, _ bool) error {
	if seq == g.gateAt {
		g.reached.Store(true)
		<-g.release
	}
	g.finished.Add(1)
	return nil
}

// TestFullRingBlocksThenResumes fills the ring while the only handler is held
// at sequence 0: TryClaim, TryPublish and TryPublishBatch must fail with
// ErrFull at once, a blocking Publish must park (not spin) and must return
// only after the handler has finished an entry, and then everything flows.
func TestFullRingBlocksThenResumes(t *testing.T) {
	bothProducerTypes(t, func(t *testing.T, pt ProducerType) {
		const size = 4
		d, err := New[event](size, WithProducerType(pt))
		if err != nil {
			t.Fatal(err)
		}
		h := newGated(0)
		d.HandleEventsWith(h)
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		for i := range size {
			if err := d.TryPublish(func(e *event) { e.Count = int64(i) }); err != nil {
				t.Fatalf("TryPublish %d into an empty ring: %v", i, err)
			}
		}
		waitUntil(t, "the handler holds sequence 0", h.reached.Load)
		if _, _, err := d.TryClaim(1); !errors.Is(err, ErrFull) {
			t.Fatalf("TryClaim on a full ring: %v, want ErrFull", err)
		}
		if err := d.TryPublish(func(*event) {}); !errors.Is(err, ErrFull) {
			t.Fatalf("TryPublish on a full ring: %v, want ErrFull", err)
		}
		if err := d.TryPublishBatch(2, func(int, *event) {}); !errors.Is(err, ErrFull) {
			t.Fatalf("TryPublishBatch on a full ring: %v, want ErrFull", err)
		}
		if got := d.Stats().Full; got != 3 {
			t.Errorf("Stats().Full = %d, want 3", got)
		}

		finishedWhenPublished := make(chan int64)
		go func() {
			err := d.Publish(func(e *event) { e.Count = size })
			if err != nil {
				t.Errorf("blocking Publish: %v", err)
			}
			finishedWhenPublished <- h.finished.Load()
		}()
		waitUntil(t, "the producer parks on the full ring", func() bool { return parked(d.seq.capacity) })
		close(h.release)
		if n := <-finishedWhenPublished; n < 1 {
			t.Fatalf("Publish returned when the handler had finished %d entries: it overwrote an unfinished entry", n)
		}
		if err := d.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := h.finished.Load(); n != size+1 {
			t.Fatalf("handler finished %d entries, want %d", n, size+1)
		}
	})
}

// TestShutdownDrainsExactlyTheAccepted races Shutdown against producers that
// are publishing into a small ring (so some are blocked on it): afterwards
// every handler must have processed exactly the entries whose Publish
// returned nil — no loss, and nothing refused that was processed.
func TestShutdownDrainsExactlyTheAccepted(t *testing.T) {
	for _, tc := range []struct {
		pt        ProducerType
		producers int
	}{{SingleProducer, 1}, {MultiProducer, 4}} {
		t.Run(tc.pt.String(), func(t *testing.T) {
			for round := range 100 * soak {
				shutdownDrainRound(t, tc.pt, tc.producers, int64(50+round*37))
				if t.Failed() {
					return
				}
			}
		})
	}
}

func shutdownDrainRound(t *testing.T, pt ProducerType, producers int, shutdownAfter int64) {
	d, err := New[event](16, WithProducerType(pt))
	if err != nil {
		t.Fatal(err)
	}
	var checkers []*checker
	a, b := newChecker(t, 0), newChecker(t, 1)
	c := newChecker(t, 2, 0, 1)
	checkers = append(checkers, a, b, c)
	reached := make(chan struct{})
	a.onEvent = func(_ *event, seq int64) {
		if seq == shutdownAfter {
			close(reached)
		}
	}
	d.HandleEventsWith(a, b).Then(c)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	accepted := make([]int64, producers)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for count := int64(0); ; count++ {
				var err error
				if count%3 == 2 {
					lo, hi, cerr := d.Claim(1)
					if err = cerr; err == nil {
						e := d.Entry(lo)
						e.Seq, e.Producer, e.Count = lo, int32(p), count
						err = d.Commit(lo, hi)
					}
				} else {
					err = d.Publish(func(e *event) { e.Seq, e.Producer, e.Count = -1, int32(p), count })
				}
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Errorf("producer %d: %v", p, err)
					}
					accepted[p] = count
					return
				}
			}
		}()
	}
	<-reached
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	if _, _, err := d.Claim(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Claim after Shutdown: %v, want ErrClosed", err)
	}
	for _, ch := range checkers {
		for p := range producers {
			if got := ch.perProd[p] + 1; got != accepted[p] {
				t.Errorf("%v: handler %d processed %d entries of producer %d; %d were accepted",
					pt, ch.id, got, p, accepted[p])
			}
		}
	}
}

// TestShutdownDeadlineHalts holds a handler forever: Shutdown with an ended
// context must halt, report the unprocessed entries, release a producer
// blocked on the full ring with ErrClosed, and the goroutines must be gone
// once the handler returns (goleak checks that in TestMain).
func TestShutdownDeadlineHalts(t *testing.T) {
	bothProducerTypes(t, func(t *testing.T, pt ProducerType) {
		const size = 8
		d, err := New[event](size, WithProducerType(pt))
		if err != nil {
			t.Fatal(err)
		}
		h := newGated(0)
		d.HandleEventsWith(h).Then(HandlerFunc[event](func(*event, int64, bool) error { return nil }))
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		for range size {
			if err := d.Publish(func(*event) {}); err != nil {
				t.Fatal(err)
			}
		}
		blocked := make(chan error)
		go func() { blocked <- d.Publish(func(*event) {}) }()
		waitUntil(t, "the producer parks on the full ring", func() bool { return parked(d.seq.capacity) })

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = d.Shutdown(ctx)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "not processed") {
			t.Fatalf("Shutdown with an ended context: %v", err)
		}
		if err := <-blocked; !errors.Is(err, ErrClosed) {
			t.Fatalf("producer blocked on the full ring got %v, want ErrClosed", err)
		}
		if err := d.Publish(func(*event) {}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Publish after a halt: %v, want ErrClosed", err)
		}
		close(h.release)
		<-d.Done()
		if err := d.Shutdown(context.Background()); err == nil || !strings.Contains(err.Error(), "halted earlier") {
			t.Fatalf("Shutdown after a halt: %v, want the earlier halt reported", err)
		}
		// A halt takes effect at the next batch boundary: the handler
		// finishes the batch it is in (here the whole ring) and no more; the
		// producer's blocked entry was never published.
		if n := h.finished.Load(); n > size {
			t.Fatalf("halted handler finished %d entries, want at most its batch of %d", n, size)
		}
	})
}

// TestLifecycleErrors covers misuse: each must be a clear error (or a panic
// for wiring a running disruptor), never a hang or silent success.
func TestLifecycleErrors(t *testing.T) {
	for _, size := range []int{0, -1, 3, 1000, MaxSize * 2} {
		if _, err := New[event](size); err == nil {
			t.Errorf("New(%d) succeeded", size)
		}
	}
	if _, err := New[event](8, WithWaitStrategy(nil)); err == nil {
		t.Error("New with a nil WaitStrategy succeeded")
	}
	if _, err := New[event](8, WithErrorHandler(nil)); err == nil {
		t.Error("New with a nil error handler succeeded")
	}
	if _, err := New[event](8, WithProducerType(ProducerType(7))); err == nil {
		t.Error("New with an unknown ProducerType succeeded")
	}

	d, _ := New[event](8)
	if err := d.Start(); err == nil {
		t.Error("Start with no handlers succeeded")
	}
	if err := d.Publish(func(*event) {}); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Publish before Start: %v, want ErrNotStarted", err)
	}
	if _, _, err := d.Claim(9); !errors.Is(err, ErrClaimSize) {
		t.Errorf("Claim(9) on a ring of 8: %v, want ErrClaimSize", err)
	}
	if _, _, err := d.TryClaim(0); !errors.Is(err, ErrClaimSize) {
		t.Errorf("TryClaim(0): %v, want ErrClaimSize", err)
	}

	d, _ = New[event](8)
	d.HandleEventsWith(nil)
	if err := d.Start(); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("Start with a nil handler: %v", err)
	}
	d, _ = New[event](8)
	d.HandleEventsWith()
	if err := d.Start(); err == nil {
		t.Error("Start after HandleEventsWith() with no handlers succeeded")
	}
	other, _ := New[event](8)
	d, _ = New[event](8)
	d.After(other.HandleEventsWith(newGated(-1)))
	if err := d.Start(); err == nil {
		t.Error("Start after After(group of another disruptor) succeeded")
	}

	d, _ = New[event](8)
	d.HandleEventsWith(newGated(-1))
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("HandleEventsWith after Start did not panic")
			}
		}()
		d.HandleEventsWith(newGated(-1))
	}()
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := d.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Shutdown: %v, want ErrClosed", err)
	}

	d, _ = New[event](8) // never started
	done := d.Done()
	if err := d.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown before Start: %v", err)
	}
	<-done
	if err := d.Publish(func(*event) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Shutdown: %v, want ErrClosed", err)
	}
}

// failingHandler writes its mark like a checker, then fails: an error at
// sequences ≡ 3 (mod 7), a panic at sequences ≡ 5 (mod 11).
type failingHandler struct{ started atomic.Int32 }

var errOdd = errors.New("odd entry")

func (f *failingHandler) OnStart()    { f.started.Add(1); panic("OnStart failed") }
func (f *failingHandler) OnShutdown() {}

func (f *failingHandler) OnEvent(e *event, seq int64, _ bool) error {
	e.Marks[0] = seq + 1
	switch {
	case seq%11 == 5:
		panic(fmt.Sprintf("boom at %d", seq))
	case seq%7 == 3:
		return fmt.Errorf("entry %d: %w", seq, errOdd)
	}
	return nil
}

// TestHandlerFailuresGoToErrorHandler checks that errors and panics reach the
// error handler with the right details and never stop the pipeline: the
// downstream handler still sees every entry, in order.
func TestHandlerFailuresGoToErrorHandler(t *testing.T) {
	bothProducerTypes(t, func(t *testing.T, pt ProducerType) {
		const n = 500
		var mu sync.Mutex
		var errs, panics []*HandlerError
		lifecycle := 0
		d, err := New[event](16, WithProducerType(pt), WithErrorHandler(func(e *HandlerError) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case e.Sequence < 0:
				lifecycle++
			case e.Panic != nil:
				if len(e.Stack) == 0 || e.Err != nil {
					t.Errorf("panic report without a stack, or with an error: %+v", e)
				}
				if ev, ok := e.Entry.(*event); !ok || ev.Marks[0] != e.Sequence+1 {
					t.Errorf("panic report's Entry is not the failing entry: %#v", e.Entry)
				}
				panics = append(panics, e)
			default:
				if !errors.Is(e, errOdd) {
					t.Errorf("error report does not wrap the handler's error: %v", e)
				}
				errs = append(errs, e)
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		f := &failingHandler{}
		down := newChecker(t, 1, 0)
		d.HandleEventsWith(f).Then(down)
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := d.Publish(func(e *event) { e.Seq, e.Producer, e.Count = -1, 0, int64(i) }); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		var wantErrs, wantPanics int
		for s := range n {
			switch {
			case s%11 == 5:
				wantPanics++
			case s%7 == 3:
				wantErrs++
			}
		}
		if len(errs) != wantErrs || len(panics) != wantPanics || lifecycle != 1 {
			t.Fatalf("got %d errors, %d panics, %d lifecycle failures; want %d, %d, 1",
				len(errs), len(panics), lifecycle, wantErrs, wantPanics)
		}
		for _, e := range panics {
			if e.Sequence%11 != 5 || !strings.Contains(e.Error(), "panicked") || e.Stage != 0 {
				t.Errorf("bad panic report: %v", e)
			}
		}
		if down.seen != n {
			t.Fatalf("downstream handler saw %d entries, want %d", down.seen, n)
		}
		st := d.Stats()
		if st.HandlerErrors != uint64(wantErrs) || st.HandlerPanics != uint64(wantPanics+1) {
			t.Errorf("Stats %+v, want %d errors and %d panics", st, wantErrs, wantPanics+1)
		}
	})
}

// TestShutdownBetweenClaimAndCommit puts Shutdown exactly where a producer is
// most exposed (Q4). A single producer's claim that is not committed when
// Shutdown starts must be refused at Commit and reach no handler. A
// multi-producer claim made before Shutdown is inside the drain target: the
// drain waits for its Commit and the handler must see it. A multi-producer
// claim whose state check passed just before Shutdown but whose add came
// after must be refused, although it got a sequence.
func TestShutdownBetweenClaimAndCommit(t *testing.T) {
	bothProducerTypes(t, func(t *testing.T, pt ProducerType) {
		d, err := New[event](8, WithProducerType(pt))
		if err != nil {
			t.Fatal(err)
		}
		c := newChecker(t, 0)
		d.HandleEventsWith(c)
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		if err := d.Publish(func(e *event) { e.Seq, e.Producer, e.Count = -1, 0, 0 }); err != nil {
			t.Fatal(err)
		}
		lo, hi, err := d.Claim(2)
		if err != nil {
			t.Fatal(err)
		}
		for s := lo; s <= hi; s++ {
			e := d.Entry(s)
			e.Seq, e.Producer, e.Count = s, 0, s
		}
		shutdown := make(chan error)
		go func() { shutdown <- d.Shutdown(context.Background()) }()
		waitUntil(t, "Shutdown has set the drain target", func() bool {
			select {
			case <-d.seq.targetSet:
				return true
			default:
				return false
			}
		})
		if pt == MultiProducer {
			// Between a passed state check and the add: must be refused.
			if _, err := d.seq.claimMultiChecked(1); !errors.Is(err, ErrClosed) {
				t.Errorf("claim added after Shutdown took the cursor: %v, want ErrClosed", err)
			}
			if _, err := d.seq.tryClaimMultiChecked(1); !errors.Is(err, ErrClosed) {
				t.Errorf("try-claim after Shutdown took the cursor: %v, want ErrClosed", err)
			}
		}
		err = d.Commit(lo, hi)
		want := int64(3) // multi: the claim was inside the drain target
		if pt == SingleProducer {
			want = 1
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Commit of a claim not published before Shutdown: %v, want ErrClosed", err)
			}
		} else if err != nil {
			t.Errorf("Commit of a claim made before Shutdown: %v", err)
		}
		if err := <-shutdown; err != nil {
			t.Fatal(err)
		}
		if c.seen != want {
			t.Errorf("handler saw %d entries, want %d", c.seen, want)
		}
	})
}
