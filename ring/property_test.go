package ring_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"testing/quick"

	"github.com/ringcast/ringcast/ring"
)

// TestModel drives a ring and a plain-slice model of it with the same random
// schedule of publishes, batch publishes, reads, batch reads and subscriptions
// on one goroutine, and requires identical answers: the same values, the same
// lag counts, the same resume points.
func TestModel(t *testing.T) {
	check := func(seed uint64, capExp uint8) bool {
		rng := rand.New(rand.NewPCG(seed, 7))
		capacity := 1 << (capExp % 8) // 1..128: one page, and several
		r, err := ring.New[uint64](capacity)
		if err != nil {
			t.Fatal(err)
		}
		type modelReader struct {
			rd       *ring.Reader[uint64]
			pos      uint64
			headroom uint64
		}
		var readers []*modelReader
		var cursor uint64
		// The ring holds every full page of the last Cap() values plus the page
		// being filled: Cap() values and the (cursor-1)%P+1 of the current page.
		pageSize := uint64(min(capacity, 64))
		oldest := func() uint64 {
			if held := uint64(capacity) + (cursor-1)%pageSize + 1; cursor > held {
				return cursor - held + 1
			}
			return 1
		}
		buf := make([]uint64, 40)
		for step := 0; step < 400; step++ {
			switch op := rng.IntN(10); {
			case op < 3:
				cursor++
				if got := r.Publish(cursor * 3); got != cursor {
					t.Errorf("seed %d: Publish = %d, want %d", seed, got, cursor)
					return false
				}
			case op == 3:
				n := rng.IntN(2*capacity + 2)
				vs := make([]uint64, n)
				for i := range vs {
					vs[i] = (cursor + uint64(i) + 1) * 3
				}
				last := r.PublishBatch(vs)
				if n > 0 {
					cursor += uint64(n)
					if last != cursor {
						t.Errorf("seed %d: PublishBatch = %d, want %d", seed, last, cursor)
						return false
					}
				}
			case op == 4 && len(readers) < 5:
				from := oldest() + uint64(rng.IntN(capacity+1))
				// Headroom: the default (none), none given explicitly, or any,
				// even past the ring.
				headroom := uint64(0)
				var opts []ring.Option
				if h := rng.IntN(4); h > 0 {
					headroom = uint64(rng.IntN(2*capacity + 1))
					if h == 1 {
						headroom = 0
					}
					opts = append(opts, ring.WithLagHeadroom(int(headroom)))
					headroom = min(headroom, uint64(capacity))
				}
				rd, err := r.SubscribeFrom(from, opts...)
				inRange := from <= cursor+1
				if (err == nil) != inRange {
					t.Errorf("seed %d: SubscribeFrom(%d) with cursor %d cap %d: err %v", seed, from, cursor, capacity, err)
					return false
				}
				if err == nil {
					readers = append(readers, &modelReader{rd: rd, pos: from, headroom: headroom})
				}
			case len(readers) > 0:
				m := readers[rng.IntN(len(readers))]
				k := 1 + rng.IntN(len(buf))
				n, err := m.rd.TryNextBatch(buf[:k])
				// The model: a reader more than capacity behind is moved its
				// headroom past the oldest value held (at most to the newest)
				// and told how many it skipped.
				switch {
				case m.pos > cursor:
					if err != ring.ErrEmpty {
						t.Errorf("seed %d: want ErrEmpty, got %d, %v", seed, n, err)
						return false
					}
				case m.pos < oldest():
					resume := max(oldest(), min(oldest()+m.headroom, cursor))
					var le *ring.LagError
					if !errors.As(err, &le) || le.Missed != resume-m.pos || le.Resume != resume {
						t.Errorf("seed %d: want lag of %d to %d, got %d, %v", seed, resume-m.pos, resume, n, err)
						return false
					}
					m.pos = resume
				default:
					if want := min(cursor+1-m.pos, uint64(k)); err != nil || uint64(n) != want {
						t.Errorf("seed %d: read of %d at %d (cursor %d): %d, %v; want %d values", seed, k, m.pos, cursor, n, err, want)
						return false
					}
					for i := range n {
						if buf[i] != (m.pos+uint64(i))*3 {
							t.Errorf("seed %d: value %d at seq %d", seed, buf[i], m.pos+uint64(i))
							return false
						}
					}
					m.pos += uint64(n)
				}
				if m.rd.Position() != m.pos {
					t.Errorf("seed %d: Position %d, model %d", seed, m.rd.Position(), m.pos)
					return false
				}
			}
		}
		for _, m := range readers {
			m.rd.Close()
		}
		return r.Readers() == 0
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 300}); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentInvariants runs one writer against readers of random speeds,
// lag headrooms and ring sizes, and checks for every reader: delivered sequences strictly
// increase, each value is the one published under its sequence, and
// delivered + reported-missed == published since it subscribed.
func TestConcurrentInvariants(t *testing.T) {
	check := func(seed uint64, capExp, nReaders uint8) bool {
		rng := rand.New(rand.NewPCG(seed, 11))
		capacity := 1 << (1 + capExp%8) // 2..256
		readers := 1 + int(nReaders%6)
		const published = 3000
		r, err := ring.New[uint64](capacity)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		ok := make([]bool, readers)
		for i := range readers {
			rd := r.Subscribe(ring.WithWaitStrategy([]ring.WaitStrategy{ring.Adaptive, ring.Sleeping, ring.Blocking, ring.Yielding}[rng.IntN(4)]),
				ring.WithLagHeadroom(rng.IntN(capacity+1)))
			slow := rng.IntN(4) // yields per read
			batch := 1 + rng.IntN(70)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer rd.Close()
				ok[i] = consume(t, rd, slow, batch, 1, published)
			}()
		}
		for s := uint64(1); s <= published; s++ {
			if s%7 == 0 {
				r.PublishBatch([]uint64{s * 5, (s + 1) * 5})
				s++
				continue
			}
			r.Publish(s * 5)
		}
		r.Close()
		wg.Wait()
		for _, good := range ok {
			if !good {
				return false
			}
		}
		return true
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 40}); err != nil {
		t.Fatal(err)
	}
}

// consume reads until ErrClosed and checks the invariants; values are seq*5.
func consume(t *testing.T, rd *ring.Reader[uint64], slow, batch int, first, published uint64) bool {
	buf := make([]uint64, batch)
	var delivered, missed uint64
	last := first - 1
	for {
		n, err := rd.NextBatch(context.Background(), buf)
		if err == ring.ErrClosed {
			break
		}
		var le *ring.LagError
		if errors.As(err, &le) {
			missed += le.Missed
			continue
		}
		if err != nil {
			t.Errorf("NextBatch: %v", err)
			return false
		}
		end := rd.Position()
		for i := range n {
			seq := end - uint64(n) + uint64(i)
			if seq <= last || buf[i] != seq*5 {
				t.Errorf("seq %d (previous %d) value %d", seq, last, buf[i])
				return false
			}
			last = seq
		}
		delivered += uint64(n)
		for range slow {
			runtime.Gosched()
		}
	}
	if delivered+missed != published-first+1 {
		t.Errorf("delivered %d + missed %d != published %d", delivered, missed, published-first+1)
		return false
	}
	return true
}
