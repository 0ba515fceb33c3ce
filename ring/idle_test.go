package ring_test

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringcast/ringcast/ring"
)

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Skip("getrusage:", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A thousand readers parked in the default wait strategy cost no CPU: over a
// window of wall time, the process uses a small fraction of one core.
func TestIdleReadersBurnNoCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("measures CPU over a wall-clock window")
	}
	r, err := ring.New[int](64)
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
	// Wait until every reader has parked: Publish then wakes all of them.
	deadline := time.Now().Add(30 * time.Second)
	for r.Publish(0); !allParked(r, readers); {
		if time.Now().After(deadline) {
			t.Fatal("readers never all parked")
		}
		time.Sleep(time.Millisecond) // polling a condition, not standing in for one
	}
	const window = 300 * time.Millisecond
	before := cpuTime(t)
	time.Sleep(window) // the measurement window itself
	used := cpuTime(t) - before
	if used > window/10 {
		t.Fatalf("%d idle readers used %v of CPU in %v of wall time", readers, used, window)
	}
	t.Logf("%d idle readers used %v of CPU in %v", readers, used, window)
}

// allParked reports whether every reader has caught up (lag 0) and is parked,
// which the ring exposes only through the lag of its readers: a parked reader
// has read everything.
func allParked(r *ring.Ring[int], readers int) bool {
	return r.Readers() == readers && r.MaxLag() == 0 && ring.Sleepers(r) == readers
}
