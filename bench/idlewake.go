package bench

import (
	"runtime"
	"slices"
	"sync/atomic"
	"time"
)

// The idle wake-up is how long a goroutine takes to run once a goroutine
// that keeps its processor (a busy publisher) wakes it while the machine's
// other processors are idle. The runtime puts the woken goroutine on the
// waker's processor; another processor must take it, and its thread, asleep
// in the OS, must first be woken, which on a virtual machine means the host
// running an idle virtual CPU again. That costs from tens of microseconds to
// milliseconds, and on a small VM the tail moves with the host's load. A
// strategy whose readers leave a core idle between deliveries, which is what
// makes them cheap, pays it in their latency, so every cost result carries
// the figure measured just before its run (docs/ring.md, eighth pass).

// IdleWakeTrials is how many wake-ups each cost run's probe times: enough
// for a 90th percentile, few enough (a millisecond or two each) not to count
// against the run.
const IdleWakeTrials = 40

// idleWakeGap is how long the probe leaves the machine idle before each
// trial, so that the other processors' threads go to sleep; idleWakeLimit
// bounds one trial's wait.
const (
	idleWakeGap   = time.Millisecond
	idleWakeLimit = 50 * time.Millisecond
)

// IdleWake times trials wake-ups of a goroutine by one that keeps its
// processor, each after the machine was left idle, and returns their median
// and 90th percentile. It returns zeros where it cannot measure: with
// GOMAXPROCS below 2 (there is no other processor) or fewer than 2 trials.
// A trial that waits past idleWakeLimit counts as that long.
func IdleWake(trials int) (p50, p90 time.Duration) {
	if trials < 2 || runtime.GOMAXPROCS(0) < 2 {
		return 0, 0
	}
	lat := make([]time.Duration, trials)
	for i := range lat {
		lat[i] = idleWakeTrial()
	}
	slices.Sort(lat)
	return lat[(trials-1)/2], lat[(trials-1)*9/10]
}

// idleWakeTrial is one wake-up: the caller wakes a parked goroutine and then
// spins, holding its processor, until that goroutine runs.
func idleWakeTrial() time.Duration {
	wake := make(chan struct{})
	var ranAt atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-wake
		ranAt.Store(Nanotime())
	}()
	time.Sleep(idleWakeGap) // the goroutine parks; the other processors go idle
	start := Nanotime()
	wake <- struct{}{}
	for ranAt.Load() == 0 && Nanotime()-start < int64(idleWakeLimit) {
	}
	<-done
	return time.Duration(min(ranAt.Load()-start, int64(idleWakeLimit)))
}
