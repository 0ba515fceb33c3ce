package loadgen

import (
	"context"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// hiccupPeriod is how often the hiccup meter asks to wake up.
const hiccupPeriod = time.Millisecond

// measureHiccups records, until ctx ends, how much later than asked a goroutine
// of this process wakes from a hiccupPeriod sleep (jHiccup's idea). When the
// machine is short of CPU, or the client's own scheduler is, this grows, and
// every latency the client measures carries it: the report shows it so that
// a noisy machine is not mistaken for a slow server.
func measureHiccups(ctx context.Context) *hdrhistogram.Histogram {
	h := newDense()
	t := time.NewTimer(hiccupPeriod)
	defer t.Stop()
	for {
		asked := time.Now()
		t.Reset(hiccupPeriod)
		select {
		case <-ctx.Done():
			return h
		case <-t.C:
		}
		h.RecordValue(latencyUs(int64(time.Since(asked) - hiccupPeriod)))
	}
}

// startHiccupMeter runs measureHiccups until the function it returns is
// called, which returns what it measured.
func startHiccupMeter(ctx context.Context) (stop func() *hdrhistogram.Histogram) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan *hdrhistogram.Histogram, 1)
	go func() { done <- measureHiccups(ctx) }()
	return func() *hdrhistogram.Histogram {
		cancel()
		return <-done
	}
}
