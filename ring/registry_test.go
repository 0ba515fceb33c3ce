package ring_test

import (
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/ringcast/ringcast/ring"
)

// Subscribing and closing cost O(1) whatever the number of readers: the
// server behind ringcast keeps one reader per connection, tens of thousands.
func TestSubscribeCloseCostIndependentOfReaders(t *testing.T) {
	r := newRing[int](t, 64)
	few := testing.AllocsPerRun(200, func() { r.Subscribe().Close() })
	var held []*ring.Reader[int]
	for range 10_000 {
		held = append(held, r.Subscribe())
	}
	many := testing.AllocsPerRun(200, func() { r.Subscribe().Close() })
	if many != few || many > 4 { // the Reader, its two channels and its options
		t.Fatalf("Subscribe+Close allocated %.1f times with no reader open and %.1f with 10000: want the same, at most 4", few, many)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 200 {
		r.Subscribe().Close()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 200; per > 1024 {
		t.Fatalf("Subscribe+Close with 10000 readers open allocated %d bytes, want well under 1 KiB (a copy of the reader list would be 80 KiB)", per)
	}
	if r.Readers() != 10_000 {
		t.Fatalf("Readers() = %d, want 10000", r.Readers())
	}
	for _, rd := range held {
		rd.Close()
	}
	if r.Readers() != 0 {
		t.Fatalf("Readers() = %d after closing all, want 0", r.Readers())
	}
}

// Readers that come and go while the writer publishes (and recycles pages)
// each see exactly what was published while they were open, intact; slots
// freed by Close are reused, and the table grows under the writer's feet.
func TestSubscribeCloseChurn(t *testing.T) {
	r := newRing[record](t, 4)
	const published = 20000
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]record, 1+g)
			for i := 0; r.Cursor() < published; i++ {
				rd := r.Subscribe()
				for range 1 + (i+g)%7 {
					n, err := rd.TryNextBatch(buf)
					var le *ring.LagError
					switch {
					case err == nil:
						for j := range n {
							if err := buf[j].consistent(rd.Position() - uint64(n-j)); err != nil {
								errs <- err
								rd.Close()
								return
							}
						}
					case errors.As(err, &le), err == ring.ErrEmpty:
					case err == ring.ErrClosed:
						rd.Close()
						return
					default:
						errs <- err
					}
				}
				rd.Close()
			}
		}()
	}
	steady := r.Subscribe() // one reader that stays, to check MaxLag sees it across growth
	defer steady.Close()
	for s := uint64(1); s <= published; s++ {
		r.Publish(makeRecord(s))
	}
	if lag := r.MaxLag(); lag < published {
		t.Errorf("MaxLag = %d, want at least %d (the steady reader read nothing)", lag, published)
	}
	r.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := r.Readers(); n != 1 {
		t.Errorf("Readers() = %d, want 1 (the steady reader)", n)
	}
}
