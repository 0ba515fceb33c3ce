package ring_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ringcast/ringcast/ring"
)

// record is a multi-word value whose every part is derived from its sequence,
// so a value stitched from two publishes is detected.
type record struct {
	Seq  uint64
	Name string
	Xs   []uint64
	Ptr  *uint64
}

func makeRecord(seq uint64) record {
	xs := make([]uint64, 1+seq%5)
	for i := range xs {
		xs[i] = seq
	}
	s := seq
	return record{Seq: seq, Name: strings.Repeat(strconv.FormatUint(seq, 10), 1+int(seq%3)), Xs: xs, Ptr: &s}
}

func (v record) consistent(seq uint64) error {
	if v.Seq != seq || v.Name != strings.Repeat(strconv.FormatUint(seq, 10), 1+int(seq%3)) ||
		len(v.Xs) != int(1+seq%5) || v.Ptr == nil || *v.Ptr != seq {
		return fmt.Errorf("torn or misplaced value at seq %d: %+v", seq, v)
	}
	for _, x := range v.Xs {
		if x != seq {
			return fmt.Errorf("torn slice at seq %d: %v", seq, v.Xs)
		}
	}
	return nil
}

// failureLog collects the failures of many goroutines, for the test's
// goroutine to report.
type failureLog struct {
	mu   sync.Mutex
	errs []error
}

func (f *failureLog) add(err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

// TestStressTornValues: one writer, many readers of mixed speeds and wait
// strategies, some readers closed from other goroutines mid-read and some
// subscribing mid-stream, a small ring so that boxes are recycled while
// lagging readers copy, and the ring closed concurrently with publishing.
// Run under -race; every delivered value must be exactly as published.
func TestStressTornValues(t *testing.T) {
	for _, capacity := range []int{2, 16, 256} {
		t.Run(fmt.Sprintf("cap=%d", capacity), func(t *testing.T) { stressTornValues(t, capacity) })
	}
}

func stressTornValues(t *testing.T, capacity int) {
	const published = 20000
	r, err := ring.New[record](capacity)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failures failureLog
	fail := failures.add
	reader := func(rd *ring.Reader[record], batch int, spin int) {
		defer wg.Done()
		defer rd.Close()
		buf := make([]record, batch)
		var delivered, missed uint64
		first := rd.Position()
		for {
			n, err := rd.NextBatch(context.Background(), buf)
			var le *ring.LagError
			switch {
			case errors.As(err, &le):
				missed += le.Missed
				continue
			case errors.Is(err, ring.ErrClosed):
				if got := delivered + missed; got != rd.Position()-first {
					fail(fmt.Errorf("delivered %d + missed %d != %d", delivered, missed, rd.Position()-first))
				}
				return
			case err != nil:
				fail(err)
				return
			}
			for i := range n {
				if err := buf[i].consistent(rd.Position() - uint64(n-i)); err != nil {
					fail(err)
					return
				}
			}
			delivered += uint64(n)
			for i := 0; i < spin; i++ { // a slow consumer: forces laps and recycling
				_ = strconv.Itoa(i)
			}
		}
	}
	strategies := []ring.WaitStrategy{ring.Adaptive, ring.Sleeping, ring.Blocking, ring.Yielding}
	for i := range 12 {
		wg.Add(1)
		go reader(r.Subscribe(ring.WithWaitStrategy(strategies[i%3])), 1+i*5, (i%4)*200)
	}
	// Readers closed by another goroutine while they read.
	closers := make(chan *ring.Reader[record], 4)
	for i := range 4 {
		rd := r.Subscribe()
		wg.Add(1)
		go reader(rd, 3+i, 0)
		closers <- rd
	}
	close(closers)
	wg.Add(1)
	go func() {
		defer wg.Done()
		i := 0
		for rd := range closers {
			for r.Cursor() < uint64(2000*(i+1)) {
				runtimeYield()
			}
			rd.Close()
			i++
		}
	}()
	wg.Add(1)
	go func() { // the writer; the ring is closed from another goroutine
		defer wg.Done()
		for s := uint64(1); s <= published; s++ {
			if s == published/2 {
				wg.Add(1)
				go reader(r.Subscribe(), 7, 0) // a late subscriber
			}
			if s%16 == 0 {
				batch := []record{makeRecord(s), makeRecord(s + 1), makeRecord(s + 2)}
				if r.PublishBatch(batch) == 0 {
					return
				}
				s += 2
				continue
			}
			if r.Publish(makeRecord(s)) == 0 {
				return
			}
		}
	}()
	for r.Cursor() < published*3/4 {
		runtimeYield()
	}
	r.Close()
	wg.Wait()
	for _, err := range failures.errs {
		t.Error(err)
	}
	if r.Readers() != 0 {
		t.Errorf("%d readers left open", r.Readers())
	}
}

// TestStressStrings uses string values and random reader speeds, including
// readers that stop and later resume far behind.
func TestStressStrings(t *testing.T) {
	for _, capacity := range []int{1, 8, 128} {
		t.Run(fmt.Sprintf("cap=%d", capacity), func(t *testing.T) { stressStrings(t, capacity) })
	}
}

func stressStrings(t *testing.T, capacity int) {
	r, err := ring.New[string](capacity)
	if err != nil {
		t.Fatal(err)
	}
	const published = 30000
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 8 {
		rd := r.Subscribe()
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			defer rd.Close()
			rng := rand.New(rand.NewPCG(seed, 1))
			for {
				v, err := rd.Next(context.Background())
				if errors.Is(err, ring.ErrLagged) {
					continue
				}
				if err != nil {
					if err != ring.ErrClosed {
						errs <- err
					}
					return
				}
				if want := strconv.FormatUint(rd.Position()-1, 36); v != want {
					errs <- fmt.Errorf("value %q at seq %d, want %q", v, rd.Position()-1, want)
					return
				}
				if rng.IntN(100) == 0 {
					for range rng.IntN(50) {
						runtimeYield()
					}
				}
			}
		}(uint64(i))
	}
	for s := uint64(1); s <= published; s++ {
		r.Publish(strconv.FormatUint(s, 36))
	}
	r.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
