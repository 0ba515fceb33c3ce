//go:build unix

package ring_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ringcast/ringcast/internal/cpuclock"
	"github.com/ringcast/ringcast/ring"
)

// A thousand readers parked in the default wait strategy, or in Sleeping,
// cost no CPU: over a window of wall time, the process uses a small fraction
// of one core.
func TestIdleReadersBurnNoCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("measures CPU over a wall-clock window")
	}
	for _, ws := range []ring.WaitStrategy{ring.Adaptive, ring.Sleeping} {
		t.Run(ws.String(), func(t *testing.T) { idleReadersBurnNoCPU(t, ws) })
	}
}

func idleReadersBurnNoCPU(t *testing.T, ws ring.WaitStrategy) {
	r, err := ring.New[int](64, ring.WithWaitStrategy(ws))
	if err != nil {
		t.Fatal(err)
	}
	const readers = 1000
	var wg sync.WaitGroup
	for range readers {
		rd := r.Subscribe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rd.Close()
			for {
				if _, err := rd.Next(context.Background()); err == ring.ErrClosed {
					return
				}
			}
		}()
	}
	defer func() { r.Close(); wg.Wait() }()
	// Wait until every reader has taken the value: each then parks at once.
	deadline := time.Now().Add(30 * time.Second)
	for r.Publish(0); r.Readers() != readers || r.MaxLag() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("readers never caught up")
		}
		time.Sleep(time.Millisecond) // polling a condition, not standing in for one
	}
	const window = 300 * time.Millisecond
	used, err := cpuclock.Idle(window)
	if err != nil {
		t.Skip("getrusage:", err)
	}
	if used > window/10 {
		t.Fatalf("%d idle readers used %v of CPU in %v of wall time", readers, used, window)
	}
	t.Logf("%d idle readers used %v of CPU in %v", readers, used, window)
}
