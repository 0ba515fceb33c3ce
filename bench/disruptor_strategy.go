package bench

import (
	"context"
	"fmt"
	"math/bits"

	"github.com/ringcast/ringcast/disruptor"
)

// The disruptor: a ring of pre-allocated entries, the single-producer
// sequencer, and one handler per consumer in one multicast group, so every
// handler sees every entry and the producer is gated on the slowest: lossless,
// and a stalled consumer holds everyone back. Publish claims a batch, copies
// the events into their entries and commits them (Claim/Entry/Commit: no
// closure, nothing allocated). A handler gathers the entries of one batch
// loop (up to recvBatch) and hands them to its Sink at endOfBatch. The
// default wait strategy, Blocking, parks idle handlers.
func init() {
	register(Strategy{Name: "disruptor", Lossless: true,
		Summary: "LMAX-style disruptor, one multicast handler per consumer, producer gated on the slowest (lossless)",
		Open:    openDisruptor})
}

type disruptorFanout struct {
	d *disruptor.Disruptor[Event]
}

// sinkHandler is one consumer: it runs on the handler's own goroutine.
type sinkHandler struct {
	sink *Sink
	buf  []Event
}

func (h *sinkHandler) OnEvent(e *Event, _ int64, endOfBatch bool) error {
	h.buf = append(h.buf, *e)
	if endOfBatch || len(h.buf) == cap(h.buf) {
		h.sink.Deliver(h.buf)
		clear(h.buf)
		h.buf = h.buf[:0]
	}
	return nil
}

func (h *sinkHandler) OnStart() {}

// OnShutdown runs after the handler's last OnEvent: the end of its stream.
func (h *sinkHandler) OnShutdown() { h.sink.Finish() }

func openDisruptor(cfg Config, sinks []*Sink) (Fanout, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	size := 1 << bits.Len(uint(cfg.Capacity-1)) // the disruptor wants a power of two
	d, err := disruptor.New[Event](size, disruptor.WithProducerType(disruptor.SingleProducer),
		disruptor.WithErrorHandler(func(e *disruptor.HandlerError) {
			panic(fmt.Sprintf("bench: disruptor handler failed: %v", e)) // the handlers never return errors
		}))
	if err != nil {
		return nil, err
	}
	handlers := make([]disruptor.Handler[Event], len(sinks))
	for i, s := range sinks {
		handlers[i] = &sinkHandler{sink: s, buf: make([]Event, 0, recvBatch)}
	}
	d.HandleEventsWith(handlers...)
	if err := d.Start(); err != nil {
		return nil, err
	}
	return &disruptorFanout{d: d}, nil
}

func (f *disruptorFanout) Publish(evs []Event) {
	for len(evs) > 0 {
		n := min(len(evs), f.d.Size())
		lo, hi, err := f.d.Claim(n)
		if err != nil {
			panic(fmt.Sprintf("bench: disruptor claim: %v", err)) // only after Shutdown, which Run never does early
		}
		for s := lo; s <= hi; s++ {
			*f.d.Entry(s) = evs[s-lo]
		}
		if err := f.d.Commit(lo, hi); err != nil {
			panic(fmt.Sprintf("bench: disruptor commit: %v", err))
		}
		evs = evs[n:]
	}
}

// Close drains: Shutdown returns once every handler has processed everything
// published.
func (f *disruptorFanout) Close() {
	if err := f.d.Shutdown(context.Background()); err != nil {
		panic(fmt.Sprintf("bench: disruptor shutdown: %v", err))
	}
}

func (f *disruptorFanout) Wait()              { <-f.d.Done() }
func (f *disruptorFanout) Dropped(int) uint64 { return 0 }
