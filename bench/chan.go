package bench

import (
	"sync"
)

// The channel baselines: one buffered channel per consumer, and a publisher
// that sends every event into every channel. What differs is what the
// publisher does when a consumer's channel is full — the four back-pressure
// policies of the seed documents:
//
//	drop-oldest  evict the oldest buffered event, then send (recent state wins)
//	drop-newest  discard the event for that consumer (history wins)
//	block        wait for room, holding back every other consumer too
//	unbounded    never full: a relay goroutine per consumer buffers without limit
//
// Channels have no batch operation: Publish sends a batch event by event,
// event-major (every consumer gets event k before any gets k+1), and a
// consumer drains greedily, up to recvBatch events per hand-off to its Sink.
//
// Invariants: only the publisher sends and closes; only consumer i (and, for
// drop-oldest, the publisher evicting) receives from channel i; drops[i] is
// written by the publisher alone and read after Wait.

// recvBatch is how many events a consumer takes per receive, for every
// strategy that lets it take several.
const recvBatch = 64

type policy uint8

const (
	dropOldest policy = iota
	dropNewest
	block
	unbounded
)

func init() {
	register(Strategy{Name: "chan-drop-oldest", Summary: "channel per consumer; when full, evict the oldest",
		Open: func(cfg Config, sinks []*Sink) (Fanout, error) { return openChan(cfg, sinks, dropOldest) }})
	register(Strategy{Name: "chan-drop-newest", Summary: "channel per consumer; when full, discard the new event",
		Open: func(cfg Config, sinks []*Sink) (Fanout, error) { return openChan(cfg, sinks, dropNewest) }})
	register(Strategy{Name: "chan-block", Lossless: true, Summary: "channel per consumer; when full, the publisher waits",
		Open: func(cfg Config, sinks []*Sink) (Fanout, error) { return openChan(cfg, sinks, block) }})
	register(Strategy{Name: "chan-unbounded", Lossless: true, Summary: "channel per consumer behind a relay goroutine with an unbounded buffer",
		Open: func(cfg Config, sinks []*Sink) (Fanout, error) { return openChan(cfg, sinks, unbounded) }})
}

type chanFanout struct {
	policy policy
	chans  []chan Event // what the publisher sends into
	drops  []uint64     // publisher-side drops per consumer
	wg     sync.WaitGroup
}

func openChan(cfg Config, sinks []*Sink, p policy) (Fanout, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f := &chanFanout{policy: p, chans: make([]chan Event, cfg.Readers), drops: make([]uint64, cfg.Readers)}
	for i := range f.chans {
		in := make(chan Event, cfg.Capacity)
		f.chans[i] = in
		out := in
		if p == unbounded {
			out = make(chan Event, cfg.Capacity)
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				relay(in, out)
			}()
		}
		f.wg.Add(1)
		go func(sink *Sink) {
			defer f.wg.Done()
			consumeChan(out, sink)
		}(sinks[i])
	}
	return f, nil
}

func (f *chanFanout) Publish(evs []Event) {
	for k := range evs {
		ev := evs[k]
		for i, ch := range f.chans {
			switch f.policy {
			case block, unbounded:
				ch <- ev
			case dropNewest:
				select {
				case ch <- ev:
				default:
					f.drops[i]++
				}
			case dropOldest:
				select {
				case ch <- ev:
					continue
				default:
				}
				// Full. Evict one; the consumer may have made room meanwhile,
				// and then there is nothing to evict. Either way there is room
				// now, because only this goroutine sends.
				select {
				case <-ch:
					f.drops[i]++
				default:
				}
				ch <- ev
			}
		}
	}
}

func (f *chanFanout) Close() {
	for _, ch := range f.chans {
		close(ch)
	}
}

func (f *chanFanout) Wait()                { f.wg.Wait() }
func (f *chanFanout) Dropped(i int) uint64 { return f.drops[i] }

// consumeChan receives until ch is closed and drained, handing the Sink what
// it finds in batches of up to recvBatch.
func consumeChan(ch <-chan Event, sink *Sink) {
	defer sink.Finish()
	buf := make([]Event, recvBatch)
	for {
		ev, ok := <-ch
		if !ok {
			return
		}
		buf[0] = ev
		n := 1
	drain:
		for n < len(buf) {
			select {
			case ev, ok := <-ch:
				if !ok {
					break drain
				}
				buf[n] = ev
				n++
			default:
				break drain
			}
		}
		sink.Deliver(buf[:n])
		clear(buf[:n]) // drop payload references held past the hand-off
	}
}

// relay is the unbounded channel: it moves events from in to out and keeps
// what out cannot take yet in a growing FIFO, so the sender never waits on
// the consumer. It is the design of the common Go "unbounded channel"
// packages (a goroutine between two channels).
func relay(in <-chan Event, out chan<- Event) {
	defer close(out)
	var q fifo
	for {
		if q.len() == 0 {
			ev, ok := <-in
			if !ok {
				return
			}
			select {
			case out <- ev:
			default:
				q.push(ev)
			}
			continue
		}
		select {
		case ev, ok := <-in:
			if !ok {
				for q.len() > 0 {
					out <- q.pop()
				}
				return
			}
			q.push(ev)
		case out <- q.peek():
			q.pop()
		}
	}
}

// fifo is a growable ring buffer of events.
type fifo struct {
	buf        []Event
	head, size int
}

func (q *fifo) len() int { return q.size }

func (q *fifo) push(ev Event) {
	if q.size == len(q.buf) {
		grown := make([]Event, max(64, 2*len(q.buf)))
		n := copy(grown, q.buf[q.head:])
		copy(grown[n:], q.buf[:q.head])
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.size)%len(q.buf)] = ev
	q.size++
}

func (q *fifo) peek() Event { return q.buf[q.head] }

func (q *fifo) pop() Event {
	ev := q.buf[q.head]
	q.buf[q.head] = Event{}
	q.head = (q.head + 1) % len(q.buf)
	q.size--
	return ev
}
