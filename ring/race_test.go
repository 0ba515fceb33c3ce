package ring_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringcast/ringcast/ring"
)

// These tests pair the public methods that the package documentation allows to
// run at once, written from the documentation alone: Publish and PublishBatch
// belong to one writer goroutine; Close, Subscribe, SubscribeFrom, Cursor,
// Oldest, Readers, MaxLag and Reader.Close/Lag may run from any goroutine;
// each Reader's read methods belong to one goroutine.

// spinFor busy-waits d: a scheduling-independent way to land Close at a
// random point of a flat-out writer (time.Sleep rounds up to the timer's
// resolution, far coarser than a publish).
func spinFor(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// randomRing returns a ring of 1 to 2^(maxExp-1) values.
func randomRing(t *testing.T, rng *rand.Rand, maxExp int) *ring.Ring[uint64] {
	r, err := ring.New[uint64](1 << rng.IntN(maxExp))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tally reads rd until ErrClosed and returns what it delivered and the sum of
// the Missed counts it was told, checking each value against its sequence
// (values are seq*5) and each LagError against the ring.
func tally(r *ring.Ring[uint64], rd *ring.Reader[uint64], batch int) (delivered, missed uint64, err error) {
	buf := make([]uint64, batch)
	for {
		n, rerr := rd.NextBatch(context.Background(), buf)
		if rerr == ring.ErrClosed {
			return delivered, missed, nil
		}
		if le, ok := rerr.(*ring.LagError); ok {
			if c := r.Cursor(); le.Resume > c {
				return delivered, missed, fmt.Errorf("lag resumes at %d, past the cursor %d", le.Resume, c)
			}
			missed += le.Missed
			continue
		}
		if rerr != nil {
			return delivered, missed, rerr
		}
		end := rd.Position()
		for i := range n {
			if seq := end - uint64(n-i); buf[i] != seq*5 {
				return delivered, missed, fmt.Errorf("value %d at seq %d", buf[i], seq)
			}
		}
		delivered += uint64(n)
	}
}

// A publish that returns a sequence is delivered to (or counted as missed by)
// every reader; one that Close beat returns 0. Close lands at random points of
// a flat-out writer that mixes Publish and PublishBatch.
func TestCloseRacingPublishLosesNothing(t *testing.T) {
	trials := 400
	if testing.Short() {
		trials = 50
	}
	for trial := range trials {
		rng := rand.New(rand.NewPCG(uint64(trial), 3))
		r := randomRing(t, rng, 8)
		capacity := r.Cap()
		const nreaders = 2
		type count struct {
			delivered, missed uint64
			err               error
		}
		counts := make([]count, nreaders)
		var wg sync.WaitGroup
		for i := range nreaders {
			rd := r.Subscribe()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer rd.Close()
				c := &counts[i]
				c.delivered, c.missed, c.err = tally(r, rd, 1+i*31)
			}()
		}
		var last atomic.Uint64
		started := make(chan struct{})
		batch := make([]uint64, 1+rng.IntN(2*capacity+1))
		wg.Add(1)
		go func() { // the writer, until a publish returns 0
			defer wg.Done()
			close(started)
			for s := uint64(1); ; {
				if s%3 == 0 {
					for i := range batch {
						batch[i] = (s + uint64(i)) * 5
					}
					got := r.PublishBatch(batch)
					if got == 0 {
						return
					}
					// Close may cut a batch larger than the ring short.
					want := s + uint64(len(batch)) - 1
					if got > want || got < s || got < want && (len(batch) <= r.Cap() || r.Publish(0) != 0) {
						t.Errorf("PublishBatch of %d from %d = %d, want %d", len(batch), s, got, want)
					}
					s = got + 1
					last.Store(got)
					continue
				}
				got := r.Publish(s * 5)
				if got == 0 {
					return
				}
				if got != s {
					t.Errorf("Publish = %d, want %d", got, s)
				}
				last.Store(got)
				s++
			}
		}()
		<-started
		spinFor(time.Duration(rng.IntN(20)) * time.Microsecond)
		r.Close()
		wg.Wait()
		for i, c := range counts {
			if c.err != nil {
				t.Fatalf("trial %d (cap %d): reader %d: %v", trial, capacity, i, c.err)
			}
			if got, want := c.delivered+c.missed, last.Load(); got != want {
				t.Fatalf("trial %d (cap %d): reader %d delivered %d + missed %d = %d, but publishes returned up to %d",
					trial, capacity, i, c.delivered, c.missed, got, want)
			}
		}
		if c := r.Cursor(); c != last.Load() {
			t.Fatalf("trial %d: Cursor() = %d after Close, last publish returned %d", trial, c, last.Load())
		}
	}
}

// With batches larger than the ring, a lag resumes at a value the ring holds:
// never past Cursor(), and Position() never passes Cursor()+1.
func TestLagResumesAtHeldValueUnderHugeBatches(t *testing.T) {
	for _, capacity := range []int{1, 4, 64, 256} {
		t.Run(fmt.Sprintf("cap=%d", capacity), func(t *testing.T) {
			r, err := ring.New[uint64](capacity)
			if err != nil {
				t.Fatal(err)
			}
			rd := r.Subscribe()
			done := make(chan error, 1)
			go func() {
				defer rd.Close()
				buf := make([]uint64, 8)
				for {
					_, err := rd.TryNextBatch(buf)
					if le, ok := err.(*ring.LagError); ok {
						if c := r.Cursor(); le.Resume > c {
							done <- fmt.Errorf("%v with Cursor() %d", le, c)
							return
						}
					} else if err == ring.ErrClosed {
						done <- nil
						return
					} else if err != nil && err != ring.ErrEmpty {
						done <- err
						return
					}
					if p, c := rd.Position(), r.Cursor(); p > c+1 {
						done <- fmt.Errorf("Position() %d past Cursor()+1 = %d", p, c+1)
						return
					}
				}
			}()
			batch := make([]uint64, 3*capacity+capacity/2+1)
			for s := uint64(1); s < 300_000; {
				for i := range batch {
					batch[i] = (s + uint64(i)) * 5
				}
				s = r.PublishBatch(batch) + 1
			}
			r.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Every pair of concurrent public calls at once: a writer mixing Publish and
// PublishBatch, readers of every read style, goroutines subscribing (from now
// and from an older sequence), closing readers, reading Cursor, Oldest,
// Readers, MaxLag and Lag, and Close landing in the middle of it all. Every
// reader's accounting must hold: delivered + missed == what it could see.
func TestStressEveryConcurrentPair(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	for round := range rounds {
		rng := rand.New(rand.NewPCG(uint64(round), 9))
		r := randomRing(t, rng, 9)
		capacity := r.Cap()
		var wg sync.WaitGroup
		var failures failureLog
		fail := failures.add
		var last atomic.Uint64 // the last sequence a publish returned
		type readerTally struct {
			first, end, delivered, missed uint64
			closedByOther                 bool
		}
		var tallies []readerTally
		stop := make(chan struct{})
		// read checks rd's accounting from first to the end of the stream. A
		// reader closed by someone else stops early, at Position().
		read := func(rd *ring.Reader[uint64], first uint64, style int, closedByOther bool) {
			defer wg.Done()
			defer rd.Close()
			var delivered, missed uint64
			buf := make([]uint64, 1+style*7)
			for {
				var n int
				var err error
				switch style % 3 {
				case 0:
					var v uint64
					if v, err = rd.Next(context.Background()); err == nil {
						buf[0], n = v, 1
					}
				case 1:
					n, err = rd.NextBatch(context.Background(), buf)
				default:
					if n, err = rd.TryNextBatch(buf); err == ring.ErrEmpty {
						runtimeYield()
						continue
					}
				}
				if le, ok := err.(*ring.LagError); ok {
					if c := r.Cursor(); le.Resume > c {
						fail(fmt.Errorf("lag resumes at %d past the cursor %d", le.Resume, c))
					}
					missed += le.Missed
					continue
				}
				if err == ring.ErrClosed {
					break
				}
				if err != nil {
					fail(err)
					return
				}
				end := rd.Position()
				for i := range n {
					if seq := end - uint64(n-i); buf[i] != seq*5 {
						fail(fmt.Errorf("value %d at seq %d", buf[i], seq))
						return
					}
				}
				delivered += uint64(n)
			}
			// Checked once the writer is done: its last publish may return
			// after this reader saw ErrClosed.
			failures.mu.Lock()
			tallies = append(tallies, readerTally{first, rd.Position(), delivered, missed, closedByOther})
			failures.mu.Unlock()
		}
		for i := range 4 {
			rd := r.Subscribe()
			wg.Add(1)
			go read(rd, 1, i, false)
		}
		wg.Add(1)
		go func() { // the writer
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(round), 10))
			for s := uint64(1); ; {
				n := 1 + rng.IntN(3*capacity)
				if rng.IntN(2) == 0 {
					n = 1
				}
				var got uint64
				if n == 1 {
					got = r.Publish(s * 5)
				} else {
					vs := make([]uint64, n)
					for i := range vs {
						vs[i] = (s + uint64(i)) * 5
					}
					got = r.PublishBatch(vs)
				}
				if got == 0 {
					return
				}
				last.Store(got)
				s = got + 1
			}
		}()
		wg.Add(1)
		go func() { // subscribers: now, and replaying from an older sequence
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				closeIt := i%3 == 2
				if i%2 == 0 {
					rd := r.Subscribe()
					wg.Add(1)
					go read(rd, rd.Position(), i, closeIt)
					_ = rd.Lag() // from another goroutine than the reader's
					if closeIt {
						runtimeYield()
						rd.Close()
					}
				} else {
					rd, err := r.SubscribeFrom(r.Oldest())
					var re *ring.RangeError
					if errors.As(err, &re) { // the writer moved on meanwhile: allowed
						runtimeYield()
						continue
					}
					if err != nil {
						fail(err)
						return
					}
					wg.Add(1)
					go read(rd, rd.Position(), i, false)
				}
				runtimeYield()
			}
		}()
		wg.Add(1)
		go func() { // observers
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := r.Cursor()
				if o := r.Oldest(); o > c+1 {
					fail(fmt.Errorf("Oldest() %d > Cursor()+1 %d", o, c+1))
				}
				_ = r.Readers()
				_ = r.MaxLag()
				runtimeYield()
			}
		}()
		spinFor(time.Duration(rng.IntN(300)) * time.Microsecond)
		r.Close()
		close(stop)
		wg.Wait()
		for _, rt := range tallies {
			want := last.Load() + 1 - rt.first
			if rt.closedByOther {
				want = rt.end - rt.first
			}
			if rt.delivered+rt.missed != want {
				failures.add(fmt.Errorf("reader from %d (closed by other %v): delivered %d + missed %d != %d",
					rt.first, rt.closedByOther, rt.delivered, rt.missed, want))
			}
		}
		for _, err := range failures.errs {
			t.Errorf("round %d (cap %d): %v", round, capacity, err)
		}
		if t.Failed() {
			return
		}
	}
}
