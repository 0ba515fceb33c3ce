package transport

// The ring engine: one global ring of every event, plus one ring per topic.
//
// Who reads what:
//   - a client of all topics reads the global ring;
//   - a client of one topic reads that topic's ring, so it never wakes for, or
//     walks over, other topics' events (10,000 topics with one subscriber each
//     cost what one topic with 10,000 subscribers costs);
//   - a client of several topics, or of a topic without a ring (beyond
//     MaxTopicRings), reads the global ring and skips the other topics.
//
// Invariants:
//   E1. mu serialises every writer: publish, and the positioning part of
//       subscribe. Under mu no ring changes, so a subscribe sees cursors,
//       topic counters and ring contents that agree with each other.
//   E2. A frame's seq is base + its position in the global ring (base is 0,
//       except in cluster mode, where seq is the log's sequence and base the
//       sequence before the node's first: follower.go). A topic's ring, when
//       it has one, holds that topic's frames in seq order, and a frame's
//       position in it equals frame.topicSeq (the ring is created together
//       with the topic's state, before its first event).
//   E3. frame.prevSeq is the seq of the previous frame of the same topic, so
//       "every event of topic t after seq G" starts at the first frame of t's
//       ring with seq > G, and it is complete iff that frame's prevSeq <= G.
//   E4. publish makes a batch visible in the topic rings before the global
//       ring, so any id a client has seen is already in its topic's ring.
//
//   T1. A reader of a topic's ring that falls behind (3/4 of that ring, or
//       an overrun) is demoted: it continues on the global ring, filtered,
//       from the event after the last it accounted for (upTo), which loses
//       nothing while the global ring still holds it. So a single-topic
//       client tolerates as much lag as an all-topics one, although topic
//       rings are small.
//   T2. A demoted reader that has caught up (its position is past the
//       cursor, under mu) is promoted back to its topic's ring, at the first
//       frame after upTo (E3 makes that exact).
//   T3. Subscribing creates no topic state: a topic's state and ring come
//       with its first publish, so subscriptions to topics nobody publishes
//       to cost nothing once they end, and cannot use up MaxTopicRings. A
//       client of a single topic that had no state reads the global ring,
//       filtered, and adopts the topic's ring once an event of it has
//       arrived (then T2 applies: it moves there when caught up).
//   T4. When every one of MaxTopicRings is taken, a new topic takes the ring
//       of the least recently published topic that no client reads
//       (reclaimRing, counted). That topic keeps its state (its counts keep
//       lag notices exact) and is served from the global ring from then
//       on, as a topic beyond MaxTopicRings is; a resume further back than
//       the global ring holds gets a reset.
//
// Lag counts. A reader of the global ring (all topics) or of a topic ring gets
// the exact count from ring.LagError. A filtered reader cannot: the ring's
// count includes other topics' events. It keeps, per topic, the topicSeq of
// the last event it accounted for, and a jump in topicSeq is exactly the
// number of that topic's events it skipped; the notice goes right before the
// first event after the gap.

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ringcast/ringcast/ring"
)

type topicState struct {
	name    string
	count   uint64 // events published to the topic: the topicSeq of the last
	last    uint64 // seq of the last, 0 if none
	ring    *ring.Ring[*frame]
	pending []*frame // publish scratch
}

type ringEngine struct {
	epoch      string
	policy     SlowClient
	topicCap   int
	maxRings   int
	m          *serverMetrics
	global     *ring.Ring[*frame]
	rings      atomic.Pointer[[]*ring.Ring[*frame]] // the topic rings, for metrics; replaced, never changed
	topicTotal atomic.Int64
	base       atomic.Uint64 // E2; set before the first publish, then fixed

	mu      sync.Mutex // E1
	topics  map[string]*topicState
	ringed  []*topicState // the topics with a ring (reclaimRing)
	closed  bool
	touched []*topicState
}

// ringOptions: a lagging client resumes at the oldest event held, losing the
// fewest (a client is a socket, not a thrashing core: it resumes once, and
// Disconnect lets it go before it laps). Streams park at once (Blocking):
// with thousands of connections, Adaptive's yields before each park would
// cost every broadcast thousands of Gosched calls, and make bench-e2e has not
// yet measured whether its saved wake-ups pay for that (docs/ring.md).
var ringOptions = []ring.Option{ring.WithLagHeadroom(0), ring.WithWaitStrategy(ring.Blocking)}

func newRingEngine(cfg *Config, m *serverMetrics) (*ringEngine, error) {
	g, err := ring.New[*frame](cfg.Capacity, ringOptions...)
	if err != nil {
		return nil, err
	}
	e := &ringEngine{
		epoch:    cfg.Epoch,
		policy:   cfg.SlowClient,
		topicCap: cfg.TopicCapacity,
		maxRings: max(cfg.MaxTopicRings, 0), // -1: none
		m:        m,
		global:   g,
		topics:   map[string]*topicState{},
	}
	e.rings.Store(new([]*ring.Ring[*frame]))
	return e, nil
}

// state returns the topic's state, creating it (with a ring while under
// MaxTopicRings) when create is set. Called with mu held.
func (e *ringEngine) state(topic string, create bool) *topicState {
	if ts := e.topics[topic]; ts != nil || !create {
		return ts
	}
	ts := &topicState{name: topic, last: e.base.Load()} // E3: nothing of it is held before base
	if len(e.ringed) < e.maxRings || e.reclaimRing() {
		r, err := ring.New[*frame](e.topicCap, ringOptions...)
		if err == nil { // capacity was validated; New cannot fail here
			ts.ring = r
			e.ringed = append(e.ringed, ts)
			list := append(slices.Clip(*e.rings.Load()), r)
			e.rings.Store(&list)
		}
	}
	e.topics[topic] = ts
	e.topicTotal.Add(1)
	return ts
}

// reclaimRing takes the ring of the least recently published topic that
// has no reader, for a new topic, when every one of MaxTopicRings is taken
// (T4). It reports whether it freed one. Called with mu held.
func (e *ringEngine) reclaimRing() bool {
	at := -1
	for i, ts := range e.ringed {
		if len(ts.pending) == 0 && ts.ring.Readers() == 0 && (at < 0 || ts.last < e.ringed[at].last) {
			at = i
		}
	}
	if at < 0 {
		return false
	}
	idle := e.ringed[at]
	e.ringed = slices.Delete(e.ringed, at, at+1)
	list := slices.DeleteFunc(slices.Clone(*e.rings.Load()), func(r *ring.Ring[*frame]) bool { return r == idle.ring })
	e.rings.Store(&list)
	idle.ring.Close()
	idle.ring = nil
	e.m.ringsReclaimed.Inc()
	return true
}

func (e *ringEngine) publish(frames []*frame) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, errEngineClosed
	}
	first := e.cursorSeq() + 1
	seq := first
	for _, f := range frames {
		ts := e.state(f.topic, true)
		f.topic = ts.name // share one string per topic
		f.stamp(e.epoch, seq)
		ts.count++
		f.topicSeq, f.prevSeq = ts.count, ts.last
		ts.last = seq
		if ts.ring != nil {
			if len(ts.pending) == 0 {
				e.touched = append(e.touched, ts)
			}
			ts.pending = append(ts.pending, f)
		}
		seq++
	}
	for _, ts := range e.touched { // E4: topic rings first
		ts.ring.PublishBatch(ts.pending)
		clear(ts.pending)
		ts.pending = ts.pending[:0]
	}
	clear(e.touched)
	e.touched = e.touched[:0]
	e.global.PublishBatch(frames)
	return first, nil
}

// peek returns the frame at seq of r, which must hold it. Called with mu
// held, so the writer cannot overwrite it meanwhile.
func peek(r *ring.Ring[*frame], seq uint64) *frame {
	rd, err := r.SubscribeFrom(seq)
	if err != nil {
		return nil
	}
	defer rd.Close()
	var one [1]*frame
	if n, _ := rd.TryNextBatch(one[:]); n != 1 {
		return nil
	}
	return one[0]
}

// firstAfter returns the position in topic ring r of the first frame with
// seq > g (Cursor()+1 if none yet), and whether every frame of the topic after
// g is still held from there (E3). Called with mu held. It costs O(log Cap)
// probes: the ring has no random access, so each probe is a short-lived reader.
func firstAfter(r *ring.Ring[*frame], g uint64) (uint64, bool) {
	c := r.Cursor()
	if c == 0 {
		return 1, true
	}
	newest := peek(r, c)
	if newest == nil {
		return 0, false
	}
	if newest.seq <= g {
		return c + 1, true
	}
	lo := r.Oldest()
	oldest := peek(r, lo)
	if oldest == nil {
		return 0, false
	}
	if oldest.seq > g {
		return lo, oldest.prevSeq <= g
	}
	hi := c // peek(lo).seq <= g < peek(hi).seq
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		f := peek(r, mid)
		if f == nil {
			return 0, false
		}
		if f.seq <= g {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, true
}

func (e *ringEngine) subscribe(sel selection, res resumePoint) (subscription, []byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.subscribeLocked(sel, res)
}

// subscribeHeld is subscribe for a resume point that the caller found in
// the ring, unless the ring has dropped its successor since (cluster mode:
// the follower publishes meanwhile). Then it returns no subscription and
// no error, and the caller replays from the log rather than answer a
// too-old reset for events the log still holds. Checked under mu (E1), so
// it cannot drop it before the reader is positioned.
func (e *ringEngine) subscribeHeld(sel selection, res resumePoint) (subscription, []byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed && res.given && res.seq+1 < e.oldestSeq() {
		return nil, nil, nil
	}
	return e.subscribeLocked(sel, res)
}

// subscribeLocked is subscribe, called with mu held.
func (e *ringEngine) subscribeLocked(sel selection, res resumePoint) (subscription, []byte, error) {
	if e.closed {
		return nil, nil, errEngineClosed
	}
	s := &ringSub{e: e}
	cursor := e.cursorSeq()
	var reset []byte
	var g uint64
	resuming := false
	if why := res.rejection(e.epoch, cursor); why != "" {
		reset = resetNotice(e.m, why, res.raw, unknownMissed)
	} else if res.given {
		g, resuming = res.seq, true
	}
	s.lastID = res.raw

	// All topics: the global ring, exact counts from the ring.
	if sel.all {
		switch {
		case !resuming:
			s.attach(e.global.Subscribe(), e.global.Cap())
		case g+1 >= e.oldestSeq():
			rd, err := e.subscribeAfter(g)
			if err != nil {
				return nil, nil, err
			}
			s.attach(rd, e.global.Cap())
			s.replayUntil = cursor
		default:
			reset = resetNotice(e.m, resetTooOld, res.raw, int64(cursor-g))
			s.attach(e.global.Subscribe(), e.global.Cap())
		}
		return s, reset, nil
	}

	// One topic with a ring of its own.
	if len(sel.topics) == 1 && sel.prefixes == nil {
		ts := e.topics[sel.topics[0]]
		if ts == nil {
			// Subscribers create nothing (T3): the topic gets its state and
			// ring from its first publish, and s moves there then.
			s.awaited = sel.topics[0]
		}
		if ts != nil && ts.ring != nil {
			s.topic = ts
			if !resuming {
				s.attach(ts.ring.Subscribe(), ts.ring.Cap())
				s.upTo, s.topicLast = cursor, ts.count
				return s, reset, nil
			}
			if pos, ok := firstAfter(ts.ring, g); ok {
				rd, err := ts.ring.SubscribeFrom(pos)
				if err != nil {
					return nil, nil, err
				}
				s.attach(rd, ts.ring.Cap())
				s.replayUntil = cursor
				s.upTo, s.topicLast = g, pos-1
				return s, reset, nil
			}
			if g+1 < e.oldestSeq() {
				reset = resetNotice(e.m, resetTooOld, res.raw, unknownMissed)
				s.attach(ts.ring.Subscribe(), ts.ring.Cap())
				s.upTo, s.topicLast = cursor, ts.count
				return s, reset, nil
			}
			// The topic's ring lost events after g that the global ring
			// still holds: replay from there, filtered, and move to the
			// topic's ring once caught up (promote).
		}
	}

	// Several topics, or a topic without a ring: the global ring, filtered.
	if sel.prefixes != nil {
		// A pattern selection starts with the existing topics it matches;
		// any other topic it matches later is new, its count 0 now (A2).
		for t := range e.topics {
			if sel.find(t) < 0 && sel.matches(t) {
				sel.learn(t)
			}
		}
	}
	s.sel = sel
	s.last = make([]uint64, len(sel.topics))
	s.known = make([]bool, len(sel.topics))
	if resuming && g+1 < e.oldestSeq() {
		reset = resetNotice(e.m, resetTooOld, res.raw, unknownMissed)
		resuming = false
	}
	if !resuming {
		for i, t := range sel.topics {
			if ts := e.topics[t]; ts != nil {
				s.last[i] = ts.count
			}
			s.known[i] = true
		}
		s.attach(e.global.Subscribe(), e.global.Cap())
		s.upTo = cursor
		return s, reset, nil
	}
	for i, t := range sel.topics {
		ts := e.topics[t]
		switch {
		case ts == nil:
			s.known[i] = true
		case ts.last <= g:
			s.last[i], s.known[i] = ts.count, true
		case ts.ring != nil:
			if pos, ok := firstAfter(ts.ring, g); ok {
				s.last[i], s.known[i] = pos-1, true
			}
		}
	}
	rd, err := e.subscribeAfter(g)
	if err != nil {
		return nil, nil, err
	}
	s.attach(rd, e.global.Cap())
	s.replayUntil = cursor
	s.upTo = g
	return s, reset, nil
}

func (e *ringEngine) maxLag() uint64 {
	m := e.global.MaxLag()
	for _, r := range *e.rings.Load() {
		m = max(m, r.MaxLag())
	}
	return m
}

func (e *ringEngine) topicCount() int { return int(e.topicTotal.Load()) }

// cursorSeq and oldestSeq are the seqs of the global ring's newest and
// oldest frames (E2), and subscribeAfter reads it from seq g+1, which it
// must hold.
func (e *ringEngine) cursorSeq() uint64 { return e.base.Load() + e.global.Cursor() }
func (e *ringEngine) oldestSeq() uint64 { return e.base.Load() + e.global.Oldest() }
func (e *ringEngine) subscribeAfter(g uint64) (*ring.Reader[*frame], error) {
	return e.global.SubscribeFrom(g + 1 - e.base.Load())
}

// readers counts the open readers of every ring (tests check clean-up).
func (e *ringEngine) readers() int {
	n := e.global.Readers()
	for _, r := range *e.rings.Load() {
		n += r.Readers()
	}
	return n
}

func (e *ringEngine) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.closed = true
	e.global.Close()
	for _, r := range *e.rings.Load() {
		r.Close()
	}
}

// ringSub is one client's position in the ring engine.
type ringSub struct {
	e           *ringEngine
	rd          *ring.Reader[*frame]
	limit       uint64      // Disconnect: the lag beyond which the client is let go
	replayUntil uint64      // frames with seq <= replayUntil are replays
	lastID      string      // the resume id, for a reset before anything was sent
	lastSeq     uint64      // seq of the last frame delivered, 0 if none
	upTo        uint64      // every event of the client's topics up to this seq is delivered or accounted for
	topic       *topicState // a single topic with a ring: where a demoted reader goes back to
	topicLast   uint64      // on the topic's ring: topicSeq of the last event accounted for
	awaited     string      // a single topic without state when s subscribed: adopt it once it has one (T3)
	one         [1]*frame
	held        *frame // what wait took, for the next fill
	heldErr     error  // a lag wait ran into, for the next fill

	// Filtered readers only (sel.all false, reading the global ring).
	sel   selection
	last  []uint64 // per topic: topicSeq of the last event accounted for
	known []bool   // last[i] is known (false only after an inexact resume)
}

func (s *ringSub) attach(rd *ring.Reader[*frame], capacity int) {
	s.rd = rd
	// Disconnect lets a client go at three quarters of its ring, while what
	// it has not read is still held, so that its resume elsewhere is exact.
	c := uint64(capacity)
	s.limit = c - c/4
}

func (s *ringSub) filtered() bool { return s.last != nil }

func (s *ringSub) wait(ctx context.Context) error {
	if s.held != nil || s.heldErr != nil {
		return nil
	}
	n, err := s.rd.NextBatch(ctx, s.one[:])
	switch {
	case n > 0:
		s.held, s.one[0] = s.one[0], nil
		return nil
	case errors.Is(err, ring.ErrLagged):
		s.heldErr = err
		return nil
	case errors.Is(err, ring.ErrClosed):
		return errEngineClosed
	}
	return err
}

func (s *ringSub) fill(b *batch) error {
	pos, lag := s.rd.Position(), s.rd.Lag()
	if s.held != nil { // wait took it: count it as unread
		pos, lag = pos-1, lag+1
	}
	if lag > s.limit {
		if s.onTopicRing() {
			// Falling behind on the topic's small ring: continue from the
			// global ring, before anything is lost (T1).
			s.deliverHeld(b)
			s.demote()
		} else if s.e.policy == Disconnect && s.e.base.Load()+pos > s.replayUntil {
			// A replay may start further behind than the limit; only
			// falling behind while live counts (an overrun during the
			// replay still does, below).
			return errSlowClient
		}
	}
	s.deliverHeld(b)
	err := s.heldErr
	s.heldErr = nil
	if b.scratch == nil {
		b.scratch = make([]*frame, batchReads)
	}
	for {
		if err == nil {
			if b.full() {
				return nil
			}
			var n int
			n, err = s.rd.TryNextBatch(b.scratch)
			if n > 0 {
				s.deliver(b.scratch[:n], b)
				continue
			}
		}
		// A type switch, not errors.As: &lag would escape and cost an
		// allocation on every fill (the ring returns *LagError unwrapped).
		lag, isLag := err.(*ring.LagError)
		switch {
		case err == ring.ErrEmpty:
			if s.awaited != "" && s.last[0] > 0 { // its topic has had an event since (T3)
				s.adopt()
			}
			if s.topic != nil && s.filtered() {
				s.promote()
			}
			return nil
		case isLag:
			if s.onTopicRing() && s.demote() {
				err = nil // nothing lost: the global ring still had it
				continue
			}
			s.e.m.laggedClients.Inc()
			if s.e.policy == Disconnect {
				return errSlowClient
			}
			s.lagged(lag.Missed, b)
			err = nil
		case errors.Is(err, ring.ErrClosed):
			return errEngineClosed
		default:
			return err
		}
	}
}

func (s *ringSub) deliverHeld(b *batch) {
	if s.held != nil {
		s.one[0], s.held = s.held, nil
		s.deliver(s.one[:], b)
	}
}

// onTopicRing reports whether s reads its topic's own ring.
func (s *ringSub) onTopicRing() bool { return s.topic != nil && !s.filtered() }

// demote moves a reader of a topic's ring, which is small, to the global
// ring, filtered to the topic, right after the last event it accounted for,
// when the global ring still holds that (T1). It reports whether it did.
func (s *ringSub) demote() bool {
	e := s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || s.upTo+1 < e.oldestSeq() {
		return false
	}
	rd, err := e.subscribeAfter(s.upTo)
	if err != nil {
		return false
	}
	s.rd.Close()
	s.attach(rd, e.global.Cap())
	s.sel = newSelection([]string{s.topic.name})
	s.last, s.known = []uint64{s.topicLast}, []bool{true}
	e.m.topicFallbacks.Inc()
	return true
}

// adopt gives a reader that subscribed before its topic existed the topic's
// state, so that promote can move it to the topic's ring (T3). It runs once:
// a topic created without a ring (beyond MaxTopicRings) never gets one.
func (s *ringSub) adopt() {
	e := s.e
	e.mu.Lock()
	if ts := e.topics[s.awaited]; ts != nil && ts.ring != nil {
		s.topic = ts
	}
	e.mu.Unlock()
	s.awaited = ""
}

// promote moves a demoted reader, now caught up, back to its topic's ring
// (T2), so that it stops waking for other topics' events.
func (s *ringSub) promote() {
	e := s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || s.rd.Position() <= e.global.Cursor() || !s.known[0] {
		return // not caught up yet (or the count is not known)
	}
	if s.topic.ring == nil { // reclaimed meanwhile (T4): stay on the global ring
		s.topic = nil
		return
	}
	pos, ok := firstAfter(s.topic.ring, s.upTo)
	if !ok {
		return
	}
	rd, err := s.topic.ring.SubscribeFrom(pos)
	if err != nil {
		return
	}
	s.rd.Close()
	s.attach(rd, s.topic.ring.Cap())
	s.topicLast = s.last[0]
	s.sel, s.last, s.known = selection{}, nil, nil
}

func (s *ringSub) lagged(missed uint64, b *batch) {
	if !s.filtered() {
		b.addLagged(missed)
		s.e.m.laggedEvents.Add(int(missed))
		return
	}
	// Filtered: per-topic counts come from the topicSeq jumps in deliver.
	// A topic whose starting point was not known cannot be counted: say so
	// with a reset, then count afresh from the next event of each topic.
	if slices.Contains(s.known, false) {
		last := s.lastID
		if s.lastSeq != 0 {
			last = (&frame{seq: s.lastSeq}).id(s.e.epoch)
		}
		b.addRaw(resetNotice(s.e.m, resetTopics, last, unknownMissed))
		clear(s.known)
	}
}

func (s *ringSub) deliver(frames []*frame, b *batch) {
	for i, f := range frames {
		frames[i] = nil
		if s.filtered() {
			t := s.sel.find(f.topic)
			if t < 0 {
				if s.sel.prefixes == nil || !s.sel.matches(f.topic) {
					continue
				}
				t = s.sel.learn(f.topic) // a topic born after the subscription: its count was 0
				s.last, s.known = append(s.last, 0), append(s.known, true)
			}
			if s.known[t] && f.topicSeq > s.last[t]+1 {
				gap := f.topicSeq - s.last[t] - 1
				b.addLagged(gap)
				s.e.m.laggedEvents.Add(int(gap))
			}
			s.last[t], s.known[t] = f.topicSeq, true
		}
		b.addFrame(f, f.seq <= s.replayUntil)
		s.lastSeq, s.upTo = f.seq, f.seq
		if !s.filtered() {
			s.topicLast = f.topicSeq
		}
	}
}

func (s *ringSub) close() { s.rd.Close() }
