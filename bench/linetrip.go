package bench

import (
	"runtime"
	"sync/atomic"
	"time"
)

// The line round trip is how long two goroutines on two processors take to
// hand one cache line back and forth: each waits for the other's store, then
// stores. It is what the ring's writer pays when a reader on another core
// loads the cursor or a line the writer is filling, and it depends on where
// the OS and, on a virtual machine, the host put the two threads: on the
// same chiplet or not, the same socket or not. On a small virtual machine it
// can flip between a fast state and one several times slower for seconds at
// a time, and a flat-out ring with one reader slows down with it (docs/ring.md
// has the figures), so every Fanout result carries the figure measured just
// before its timed part: a reader of the results can tell the machine's
// states apart from the code's.

// lineTripRounds is how many round trips one probe makes: enough that a
// few slow ones do not move the median much, few enough (well under 10 ms
// in the slowest state) not to count against a run.
const lineTripRounds = 4096

// lineTripLimit bounds a probe whose second goroutine gets no processor of
// its own (GOMAXPROCS 1, or a crowded machine).
const lineTripLimit = 50 * time.Millisecond

// LineRoundTrip measures the mean time of rounds cache-line round trips
// between two goroutines, or 0 where it cannot: with GOMAXPROCS below 2 (the
// two would take turns on one processor) or when the probe ran out of
// time.
func LineRoundTrip(rounds int) time.Duration {
	if rounds < 1 || runtime.GOMAXPROCS(0) < 2 {
		return 0
	}
	var line struct {
		_ [64]byte
		v atomic.Int64 // even: the caller's turn; odd: the echo's
		_ [64]byte
	}
	stop := atomic.Bool{}
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		for i := int64(1); i < 2*int64(rounds); i += 2 {
			for line.v.Load() != i {
				if stop.Load() {
					return
				}
			}
			line.v.Store(i + 1)
		}
	}()
	start := time.Now()
	deadline := start.Add(lineTripLimit)
	for i := int64(0); i < 2*int64(rounds); i += 2 {
		line.v.Store(i + 1)
		for j := 0; line.v.Load() != i+2; j++ {
			if j&1023 == 1023 && time.Now().After(deadline) {
				stop.Store(true)
				<-echoed
				return 0
			}
		}
	}
	d := time.Since(start)
	<-echoed
	return d / time.Duration(rounds)
}
