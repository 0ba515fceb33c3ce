package transport

// The channel engine: the idiomatic Go hub, kept as the baseline that the
// ring engine is measured against under identical load (--engine chan).
//
// Each client owns a buffered channel (a growable queue for Unbounded). The
// publisher, under the hub lock, offers every event to every subscriber of
// its topic, one channel operation per event per client, and applies the
// slow-client strategy when a channel is full:
//
//	drop-oldest  take the oldest event out of the channel, put the new one in
//	drop-newest  drop the new event
//	block        wait until the client makes room (every publisher waits too)
//	unbounded    append to the client's queue; memory is the only limit
//	disconnect   let the client go
//
// Drops are counted per client and reported to it as "event: lagged" before
// the next events it is sent; the total is exact, the position is where the
// client's goroutine noticed (the channel gives no finer point). The hub keeps
// no history, so a resume is exact only when nothing was missed; otherwise the
// client gets a reset with what is known.
//
// Invariants:
//   C1. mu serialises publishers and (un)registration; frames reach each
//       channel in seq order.
//   C2. A blocked send also selects on the client's done channel, which close
//       closes before it takes mu, so a departed client never wedges the hub.

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

type chanEngine struct {
	epoch  string
	policy SlowClient
	buf    int
	m      *serverMetrics
	done   chan struct{} // closed by close

	mu      sync.Mutex // C1
	seq     uint64
	all     map[*chanSub]struct{}
	byTopic map[string]map[*chanSub]struct{}
	pattern map[*chanSub]struct{} // pattern selections: offered what their prefixes match
	topics  map[string]struct{}
	closed  bool

	// For metrics, which must not wait on mu: with Block a publisher holds
	// it for as long as a client does not read. Rebuilt under mu.
	list    atomic.Pointer[[]*chanSub]
	nTopics atomic.Int64
}

func newChanEngine(cfg *Config, m *serverMetrics) *chanEngine {
	e := &chanEngine{
		epoch:   cfg.Epoch,
		policy:  cfg.SlowClient,
		buf:     cfg.ChanBuffer,
		m:       m,
		done:    make(chan struct{}),
		all:     map[*chanSub]struct{}{},
		pattern: map[*chanSub]struct{}{},
		byTopic: map[string]map[*chanSub]struct{}{},
		topics:  map[string]struct{}{},
	}
	e.list.Store(new([]*chanSub))
	return e
}

type chanSub struct {
	e       *chanEngine
	sel     selection
	ch      chan *frame // nil for Unbounded
	dropped atomic.Uint64
	kicked  atomic.Bool
	kick    chan struct{} // closed when Disconnect lets the client go
	done    chan struct{} // closed by close (C2)
	once    sync.Once

	held *frame // what wait took, for the next fill

	qmu    sync.Mutex // Unbounded
	q      []*frame
	signal chan struct{} // capacity 1: "the queue is not empty"
	spare  []*frame
}

func (e *chanEngine) publish(frames []*frame) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, errEngineClosed
	}
	first := e.seq + 1
	for _, f := range frames {
		e.seq++
		f.stamp(e.epoch, e.seq)
		if _, ok := e.topics[f.topic]; !ok {
			e.topics[f.topic] = struct{}{}
			e.nTopics.Add(1)
		}
		for s := range e.all {
			s.offer(f)
		}
		for s := range e.byTopic[f.topic] {
			s.offer(f)
		}
		if len(e.pattern) > 0 { // only with signed tokens' prefix grants
			for s := range e.pattern {
				if s.sel.find(f.topic) < 0 && s.sel.matches(f.topic) {
					s.offer(f)
				}
			}
		}
	}
	return first, nil
}

// offer hands f to the client by the engine's strategy. Called with e.mu held.
func (s *chanSub) offer(f *frame) {
	switch s.e.policy {
	case Unbounded:
		s.qmu.Lock()
		s.q = append(s.q, f)
		s.qmu.Unlock()
		select {
		case s.signal <- struct{}{}:
		default:
		}
	case Block:
		select {
		case s.ch <- f:
		case <-s.done:
		}
	case DropNewest:
		select {
		case s.ch <- f:
		default:
			s.dropped.Add(1)
			s.e.m.droppedNewest.Inc()
		}
	case Disconnect:
		select {
		case s.ch <- f:
		default:
			if !s.kicked.Swap(true) {
				close(s.kick)
			}
		}
	default: // DropOldest
		for {
			select {
			case s.ch <- f:
				return
			default:
			}
			select {
			case <-s.ch:
				s.dropped.Add(1)
				s.e.m.droppedOldest.Inc()
			default:
			}
		}
	}
}

func (e *chanEngine) subscribe(sel selection, res resumePoint) (subscription, []byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, nil, errEngineClosed
	}
	var reset []byte
	switch why := res.rejection(e.epoch, e.seq); {
	case why != "":
		reset = resetNotice(e.m, why, res.raw, unknownMissed)
	case res.given && res.seq < e.seq: // no history to replay from
		missed := int64(unknownMissed)
		if sel.all {
			missed = int64(e.seq - res.seq)
		}
		reset = resetNotice(e.m, resetTooOld, res.raw, missed)
	}
	s := &chanSub{e: e, sel: sel, kick: make(chan struct{}), done: make(chan struct{})}
	if e.policy == Unbounded {
		s.signal = make(chan struct{}, 1)
	} else {
		s.ch = make(chan *frame, e.buf)
	}
	if sel.all {
		e.all[s] = struct{}{}
	}
	if sel.prefixes != nil {
		e.pattern[s] = struct{}{}
	}
	for _, t := range sel.topics {
		set := e.byTopic[t]
		if set == nil {
			set = map[*chanSub]struct{}{}
			e.byTopic[t] = set
		}
		set[s] = struct{}{}
	}
	list := append(slices.Clone(*e.list.Load()), s)
	e.list.Store(&list)
	return s, reset, nil
}

func (s *chanSub) wait(ctx context.Context) error {
	if s.held != nil || s.dropped.Load() > 0 {
		return nil
	}
	if s.ch == nil {
		for {
			s.qmu.Lock()
			n := len(s.q)
			s.qmu.Unlock()
			if n > 0 {
				return nil
			}
			select {
			case <-s.signal:
			case <-ctx.Done():
				return ctx.Err()
			case <-s.e.done:
				return errEngineClosed
			}
		}
	}
	select {
	case f := <-s.ch:
		s.held = f
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.kick:
		return errSlowClient
	case <-s.e.done:
		return errEngineClosed
	}
}

func (s *chanSub) fill(b *batch) error {
	if s.kicked.Load() {
		return errSlowClient
	}
	// Drop-oldest loses events older than what is still in the channel, so
	// the notice goes first; drop-newest loses events newer than it, so the
	// notice goes after what the channel held.
	newest := s.e.policy == DropNewest
	if !newest {
		s.noticeDrops(b)
	}
	if s.held != nil {
		b.addFrame(s.held, false)
		s.held = nil
	}
	if s.ch == nil {
		s.qmu.Lock()
		q := s.q
		s.q = s.spare[:0]
		s.qmu.Unlock()
		for i, f := range q {
			b.addFrame(f, false)
			q[i] = nil
		}
		s.spare = q[:0]
	} else {
	loop:
		for !b.full() {
			select {
			case f := <-s.ch:
				b.addFrame(f, false)
			default:
				break loop
			}
		}
	}
	if newest {
		s.noticeDrops(b)
	}
	return nil
}

func (s *chanSub) noticeDrops(b *batch) {
	if d := s.dropped.Swap(0); d > 0 {
		b.addLagged(d)
		s.e.m.laggedClients.Inc()
		s.e.m.laggedEvents.Add(int(d))
	}
}

func (s *chanSub) close() {
	s.once.Do(func() {
		close(s.done) // C2: unblock a publisher waiting on us before taking mu
		e := s.e
		e.mu.Lock()
		delete(e.all, s)
		delete(e.pattern, s)
		for _, t := range s.sel.topics {
			if set := e.byTopic[t]; set != nil {
				delete(set, s)
				if len(set) == 0 {
					delete(e.byTopic, t)
				}
			}
		}
		list := slices.DeleteFunc(slices.Clone(*e.list.Load()), func(x *chanSub) bool { return x == s })
		e.list.Store(&list)
		e.mu.Unlock()
	})
}

func (e *chanEngine) maxLag() uint64 {
	var m int
	for _, s := range *e.list.Load() {
		if s.ch != nil {
			m = max(m, len(s.ch))
		} else {
			s.qmu.Lock()
			m = max(m, len(s.q))
			s.qmu.Unlock()
		}
	}
	return uint64(m)
}

func (e *chanEngine) topicCount() int { return int(e.nTopics.Load()) }

// subscribers counts registered subscriptions (tests check clean-up).
func (e *chanEngine) subscribers() int { return len(*e.list.Load()) }

func (e *chanEngine) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.done)
	}
}
