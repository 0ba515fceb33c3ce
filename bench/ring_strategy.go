package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ringcast/ringcast/ring"
)

// The ring: one slot array, a writer that never waits, readers that each keep
// their own position and learn of an overrun from a *ring.LagError with the
// exact count missed, which the adapter passes to Sink.Missed. Every reader
// subscribes in Open, so it sees every event published afterwards. Publish
// maps a batch to one PublishBatch: readers see it at once.
func init() {
	register(Strategy{Name: "ring-adaptive", Summary: "ring, readers spin, yield, then park when idle; more readers than cores nap at a steady modest rate (ring.Adaptive, the default)",
		Open: func(cfg Config, sinks []*Sink) (Fanout, error) { return openRing(cfg, sinks, ring.Adaptive) }})
	register(Strategy{Name: "ring-sleeping", Summary: "ring, readers nap while values keep coming (the writer wakes them once about 0.5 ms of values came), park when idle (ring.Sleeping)",
		Open: func(cfg Config, sinks []*Sink) (Fanout, error) { return openRing(cfg, sinks, ring.Sleeping) }})
	register(Strategy{Name: "ring-blocking", Summary: "ring, readers park as soon as they find nothing (ring.Blocking)",
		Open: func(cfg Config, sinks []*Sink) (Fanout, error) { return openRing(cfg, sinks, ring.Blocking) }})
	register(Strategy{Name: "ring-yield", Summary: "ring, readers poll and yield when idle (ring.Yielding)",
		Open: func(cfg Config, sinks []*Sink) (Fanout, error) { return openRing(cfg, sinks, ring.Yielding) }})
	register(Strategy{Name: "ring-spin", Summary: "ring, readers busy-spin when idle (ring.BusySpin: a core per reader)",
		Open: func(cfg Config, sinks []*Sink) (Fanout, error) { return openRing(cfg, sinks, ring.BusySpin) },
		// Spinning readers need a core each; past a few on two cores the
		// scheduler's 10 ms time slices are all that moves them.
		MaxReaders: 4})
}

type ringFanout struct {
	r  *ring.Ring[Event]
	wg sync.WaitGroup
}

func openRing(cfg Config, sinks []*Sink, ws ring.WaitStrategy) (Fanout, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r, err := ring.New[Event](cfg.Capacity, ring.WithWaitStrategy(ws))
	if err != nil {
		return nil, err
	}
	f := &ringFanout{r: r}
	for _, sink := range sinks {
		rd := r.Subscribe()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			consumeRing(rd, sink)
		}()
	}
	return f, nil
}

func consumeRing(rd *ring.Reader[Event], sink *Sink) {
	defer sink.Finish()
	defer rd.Close()
	buf := make([]Event, recvBatch)
	ctx := context.Background()
	for {
		n, err := rd.NextBatch(ctx, buf)
		if n > 0 {
			sink.Deliver(buf[:n])
			clear(buf[:n])
		}
		// A type assertion, not errors.As: &lag would escape and cost an
		// allocation per read (the ring returns *LagError unwrapped).
		lag, isLag := err.(*ring.LagError)
		switch {
		case err == nil:
		case isLag:
			sink.Missed(lag.Missed)
		case errors.Is(err, ring.ErrClosed):
			return
		default:
			sink.Fail(fmt.Errorf("ring reader: %w", err))
			return
		}
	}
}

func (f *ringFanout) Publish(evs []Event) {
	if len(evs) == 1 {
		f.r.Publish(evs[0])
		return
	}
	f.r.PublishBatch(evs)
}

func (f *ringFanout) Close()             { f.r.Close() }
func (f *ringFanout) Wait()              { f.wg.Wait() }
func (f *ringFanout) Dropped(int) uint64 { return 0 }
