package bench

import (
	"runtime"
	"slices"
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

// LineTripRounds is how many round trips each run's probe makes, in
// lineTripChunks timed chunks: few enough (well under 10 ms in the slowest
// state) not to count against a run.
const LineTripRounds = 4096

// lineTripChunks: the probe reports the median chunk, so that the echo
// goroutine losing its processor for a while (a preemption, the GC) moves
// one chunk and not the figure.
const lineTripChunks = 16

// lineTripLimit bounds a probe whose second goroutine gets no processor of
// its own (GOMAXPROCS 1, or a crowded machine).
const lineTripLimit = 50 * time.Millisecond

// LineRoundTrip measures the time of one cache-line round trip between two
// goroutines: the median over lineTripChunks chunks of the mean round trip
// of each, rounds in all. It returns 0 where it cannot measure: with
// GOMAXPROCS below 2 (the two would take turns on one processor) or when
// the probe ran out of time.
func LineRoundTrip(rounds int) time.Duration {
	return lineRoundTrip(rounds, lineTripLimit)
}

// lineRoundTrip is LineRoundTrip with its time limit.
func lineRoundTrip(rounds int, limit time.Duration) time.Duration {
	per := int64(rounds / lineTripChunks)
	if per < 1 || runtime.GOMAXPROCS(0) < 2 {
		return 0
	}
	total := per * lineTripChunks
	var line struct {
		_ [64]byte
		v atomic.Int64 // odd: the echo's turn; even: the caller's
		_ [64]byte
	}
	stop := atomic.Bool{}
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		for i := int64(1); i < 2*total; i += 2 {
			for line.v.Load() != i {
				if stop.Load() {
					return
				}
			}
			line.v.Store(i + 1)
		}
	}()
	abandon := func() time.Duration {
		stop.Store(true)
		<-echoed
		return 0
	}
	deadline := time.Now().Add(limit)
	var chunks [lineTripChunks]time.Duration
	for c := range chunks {
		t := time.Now()
		for i := 2 * per * int64(c); i < 2*per*int64(c+1); i += 2 {
			line.v.Store(i + 1)
			for j := 0; line.v.Load() != i+2; j++ {
				if j&1023 == 1023 && time.Now().After(deadline) {
					return abandon()
				}
			}
		}
		now := time.Now()
		chunks[c] = now.Sub(t) / time.Duration(per)
		if now.After(deadline) {
			return abandon()
		}
	}
	<-echoed
	slices.Sort(chunks[:])
	return chunks[lineTripChunks/2]
}
