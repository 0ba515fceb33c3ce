package ring

import (
	"context"
	"errors"
	"testing"
)

// pacedReader is a solo Adaptive reader of a ring of capacity 1024 that has
// waited once (so it has its waitState), whatever GOMAXPROCS the test runs
// with.
func pacedReader(t *testing.T, ws WaitStrategy, procs int) (*Ring[int], *Reader[int]) {
	t.Helper()
	r, err := New[int](1024, WithWaitStrategy(ws))
	if err != nil {
		t.Fatal(err)
	}
	r.procs = procs
	rd := r.Subscribe()
	rd.waits = &waitState[int]{}
	return r, rd
}

// readBatch reads one batch into a 64-value buffer and checks it holds the
// sequences from..from+n-1 (values are their sequences).
func readBatch(t *testing.T, rd *Reader[int], ctx context.Context, from, n int) {
	t.Helper()
	dst := make([]int, 64)
	got, err := rd.NextBatch(ctx, dst)
	if err != nil || got != n {
		t.Fatalf("NextBatch = %d, %v; want %d values", got, err, n)
	}
	for i, v := range dst[:got] {
		if v != from+i {
			t.Fatalf("value %d is %d, want %d", i, v, from+i)
		}
	}
}

func publishSeqs(r *Ring[int], n int) {
	for range n {
		r.Publish(int(r.Cursor()) + 1)
	}
}

// TestPaceGrowsWhileFewValuesAreReady: a solo Adaptive reader that finds a
// few values at each read paces up to paceMax, and stops pacing at once when
// it finds a full batch, nothing, or a lag (P7).
func TestPaceGrowsWhileFewValuesAreReady(t *testing.T) {
	ctx := context.Background()
	r, rd := pacedReader(t, Adaptive, 4)
	next := 1
	stream := func() {
		for i := 0; rd.waits.pace < paceMax; i++ {
			if i > 20 {
				t.Fatalf("pace %d after %d reads of 2 values; want %d", rd.waits.pace, i, paceMax)
			}
			publishSeqs(r, 2)
			readBatch(t, rd, ctx, next, 2)
			next += 2
		}
	}
	stream()

	publishSeqs(r, 64) // behind: a full batch
	readBatch(t, rd, ctx, next, 64)
	next += 64
	if rd.waits.pace != 0 {
		t.Fatalf("pace %d after a full batch, want 0", rd.waits.pace)
	}

	stream()
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := rd.NextBatch(done, make([]int, 64)); !errors.Is(err, context.Canceled) {
		t.Fatalf("NextBatch on an empty ring with a done context = %v", err)
	}
	if rd.waits.pace != 0 {
		t.Fatalf("pace %d after finding nothing, want 0", rd.waits.pace)
	}

	stream()
	publishSeqs(r, 3000) // laps the reader
	var lag *LagError
	if _, err := rd.NextBatch(ctx, make([]int, 64)); !errors.As(err, &lag) {
		t.Fatalf("NextBatch after being lapped = %v, want a *LagError", err)
	}
	if rd.waits.pace != 0 {
		t.Fatalf("pace %d after a lag, want 0", rd.waits.pace)
	}
}

// TestPaceOnlySoloAdaptive: crowded readers, which share cores, and Sleeping
// readers never pace; neither does Next's small read-ahead once it is full.
func TestPaceOnlySoloAdaptive(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		ws    WaitStrategy
		procs int
	}{{"crowded", Adaptive, 1}, {"sleeping", Sleeping, 4}} {
		t.Run(c.name, func(t *testing.T) {
			r, rd := pacedReader(t, c.ws, c.procs)
			for i := range 10 {
				publishSeqs(r, 2)
				readBatch(t, rd, ctx, 2*i+1, 2)
			}
			if rd.waits.pace != 0 {
				t.Fatalf("pace %d, want 0", rd.waits.pace)
			}
		})
	}
	t.Run("next", func(t *testing.T) {
		r, rd := pacedReader(t, Adaptive, 4)
		next := 1
		for range 10 {
			publishSeqs(r, 2)
			for range 2 {
				if v, err := rd.Next(ctx); err != nil || v != next {
					t.Fatalf("Next = %d, %v; want %d", v, err, next)
				}
				next++
			}
		}
		if rd.waits.pace == 0 {
			t.Fatal("Next of 2 values at a time does not pace")
		}
		publishSeqs(r, 100)
		if v, err := rd.Next(ctx); err != nil || v != next {
			t.Fatalf("Next = %d, %v; want %d", v, err, next)
		}
		if rd.waits.pace != 0 {
			t.Fatalf("pace %d after a full read-ahead, want 0", rd.waits.pace)
		}
	})
}
