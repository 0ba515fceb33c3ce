package disruptor

// The sequencer: how producers claim sequences, wait for space and publish,
// and how claims and shutdown agree on what gets drained.
//
// The ring has size = 2^k entries; sequence s lives in entry s & mask.
//
// Invariants (both sequencers):
//   Q1. Gating: a producer claims sequence hi only when hi - size <=
//       min(gating), the smallest sequence of the handlers at the end of the
//       graph. Every other handler is upstream of one of those, so no entry
//       is rewritten before every handler has finished it. The producer
//       learns min(gating) by atomic loads (S3), so the handlers' reads of the
//       old entry happen before its writes of the new one.
//   Q2. gateCache (single) and gateShared (multi) hold a lower bound of
//       min(gating): sequences only grow (S1), so a stale value is still a
//       safe bound and the producer rescans the gating sequences only when
//       the cached bound says the ring might be full.
//   Q3. A handler never processes an entry above limit. limit is noLimit
//       while running, the drain target while shutting down, haltLimit
//       after a halt, and pendingLimit from just before Shutdown loads the
//       cursor until it has stored the target. A handler loads what is
//       available (the cursor) and then limit, and waits for the target if
//       it reads pendingLimit. So a handler that saw noLimit loaded the
//       cursor before Shutdown did (sequential consistency), and what it
//       saw is <= target: without pendingLimit a single producer's entry,
//       published after Shutdown loaded the cursor and so refused at
//       Commit, could still be processed by a handler that read the new
//       cursor before Shutdown stored the target as limit.
//   Q4. Closing: Shutdown sets the state to closed, then loads the cursor
//       and makes that the drain target. A producer that claimed (multi) or
//       published (single) and then loaded ctl and saw running did so before
//       Shutdown loaded the cursor (sequential consistency: each side stores
//       and then loads what the other stored), so its entry is <= target and
//       will be drained. A producer that sees any other state waits for the
//       target (targetSet) and compares: hi <= target means the entry is
//       drained as usual, hi > target means ErrClosed and no handler will see
//       the entry. So every claim either reaches every handler or its
//       producer gets ErrClosed: nothing is dropped silently.
//   Q5. ctl is the one word a producer checks after publishing. Its low
//       bits are the lifecycle state; ctlCustom is set when some handler
//       reading the cursor has a Waiter of a custom WaitStrategy, which must
//       be signalled on every publish; ctlParked is set by a handler reading
//       the cursor that is about to park (B6) and cleared by the producer
//       that wakes it. So ctl == stateRunning means "running, and nobody to
//       wake": the common case of a publish is one XCHG and one load of a
//       read-mostly line.
//
// Single-producer sequencer (one producer goroutine, enforced by the race
// detector, not by the code):
//   P1. next (highest claimed) and gateCache are plain fields of the
//       producer; the publish path has no atomic read-modify-write, only the
//       store of the cursor (an XCHG on amd64: Go has no release-only store).
//   P2. cursor is the highest published sequence; the producer publishes in
//       claim order, so every entry <= cursor is published.
//   P3. Shutdown's target is the cursor. A claim not yet committed when
//       Shutdown starts is refused at Commit (Q4); a producer waiting for
//       space when Shutdown starts returns ErrClosed.
//
// The multi-producer sequencer is in sequencer_multi.go.

import (
	"errors"
	"sync/atomic"
)

var (
	// ErrFull is returned by TryClaim, TryPublish and TryPublishBatch when
	// the ring has no room for the claim: the handlers at the end of the
	// graph have not finished the entries it would overwrite.
	ErrFull = errors.New("disruptor: ring full")
	// ErrClosed is returned by claims and publishes once Shutdown has begun:
	// the entry was not accepted and no handler will see it.
	ErrClosed = errors.New("disruptor: closed")
	// ErrNotStarted is returned by claims and publishes before Start.
	ErrNotStarted = errors.New("disruptor: not started")
	// ErrClaimSize is returned for a claim of fewer than one entry or more
	// entries than the ring holds.
	ErrClaimSize = errors.New("disruptor: claim size out of range")
)

// Lifecycle states, the low bits of ctl (Q4, Q5).
const (
	stateNew int32 = iota
	stateRunning
	stateClosed // Shutdown began: no new claims; handlers drain to target
	stateHalted // the drain was abandoned: handlers stop now

	stateMask int32 = 3
	ctlCustom int32 = 4 // Q5
	ctlParked int32 = 8 // Q5, B6
)

type sequencer struct {
	// Read-mostly: fixed once the disruptor runs, except ctl and limit.
	size    int64
	mask    int64
	shift   uint
	multi   bool
	avail   []int32     // multi only; see sequencer_multi.go (M2, M6)
	gating  []*sequence // sequences of the handlers at the end of the graph
	readers signalList  // Waiters of the handlers that read the cursor
	// capacity is where producers wait for space.
	capacity Waiter
	ctl      atomic.Int32 // Q5
	limit    atomic.Int64 // Q3

	singleCap capacityCondition
	multiCap  capacityCondition

	// Single producer only (P1): the producer's own, never shared.
	_         [cacheLinePad]byte
	next      int64
	gateCache int64

	cursor     sequence // P2; multi: highest claimed (M1)
	gateShared sequence // multi only (Q2)

	// Q4: target is written once, before targetSet is closed.
	targetSet chan struct{}
	target    int64

	// Counters for Stats; written only off the fast path.
	full, refused atomic.Uint64
}

func (s *sequencer) init(size int64, multi bool) {
	s.size = size
	s.mask = size - 1
	for 1<<s.shift < size {
		s.shift++
	}
	s.multi = multi
	s.next = initialSequence
	s.gateCache = initialSequence
	s.cursor.v.Store(initialSequence)
	s.gateShared.v.Store(initialSequence)
	s.limit.Store(noLimit)
	s.targetSet = make(chan struct{})
	s.singleCap = capacityCondition{s: s, alertOn: stateClosed}
	s.multiCap = capacityCondition{s: s, alertOn: stateHalted}
	if multi {
		s.avail = make([]int32, size)
		for i := range s.avail {
			s.avail[i] = -1 // no lap published yet (M2); Start's go statements publish it
		}
	}
}

func (s *sequencer) state() int32 { return s.ctl.Load() & stateMask }

// setState replaces the state bits of ctl, keeping the others.
func (s *sequencer) setState(st int32) {
	for {
		old := s.ctl.Load()
		if s.ctl.CompareAndSwap(old, old&^stateMask|st) {
			return
		}
	}
}

// capacityCondition is what producers wait for: space for sequence hi, which
// is there once min(gating) + size >= hi (Q1).
type capacityCondition struct {
	s *sequencer
	// alertOn is the first state in which a waiting producer gives up: a
	// single producer has claimed nothing yet and stops at closed; a
	// multi-producer claim may be inside the drain target and must go on
	// until halted (M4).
	alertOn int32
}

func (c *capacityCondition) Available() int64 {
	return minimumSequence(c.s.gating, noLimit-c.s.size) + c.s.size
}

func (c *capacityCondition) Alerted() bool { return c.s.state() >= c.alertOn }

// claimSingle claims n sequences for the single producer and returns the
// highest. With wait it waits for space; otherwise it returns ErrFull.
func (s *sequencer) claimSingle(n int64, wait bool) (int64, error) {
	if err := s.checkRunning(); err != nil {
		return 0, err
	}
	hi := s.next + n
	if wrap := hi - s.size; wrap > s.gateCache { // Q2: maybe full
		gate := minimumSequence(s.gating, hi)
		if wrap > gate {
			if !wait {
				s.full.Add(1)
				return 0, ErrFull
			}
			a := s.capacity.WaitFor(hi, &s.singleCap)
			if a < hi {
				s.refused.Add(1)
				return 0, ErrClosed // P3
			}
			gate = a - s.size
		}
		s.gateCache = gate
	}
	s.next = hi
	return hi, nil
}

// publishSingle publishes every claimed sequence up to hi. The fast path is
// small enough to inline: a store and one load (Q5).
func (s *sequencer) publishSingle(hi int64) error {
	s.cursor.v.Store(hi)
	if s.ctl.Load() != stateRunning {
		return s.published(hi)
	}
	return nil
}

// published is the slow half of a publish: refuse entries beyond the drain
// target (Q4), wake readers (Q5).
func (s *sequencer) published(hi int64) error {
	if s.state() != stateRunning && !s.acceptedBeforeClose(hi) {
		return ErrClosed
	}
	s.wakeReaders()
	return nil
}

// wakeReaders is the producers' side of B6.
func (s *sequencer) wakeReaders() {
	ctl := s.ctl.Load()
	if ctl&ctlParked != 0 {
		s.ctl.And(^ctlParked)
	}
	if ctl&(ctlParked|ctlCustom) != 0 || ctl&stateMask != stateRunning {
		s.readers.signal()
	}
}

// checkRunning returns the error for a claim made while not running.
func (s *sequencer) checkRunning() error {
	switch s.state() {
	case stateRunning:
		return nil
	case stateNew:
		s.refused.Add(1)
		return ErrNotStarted
	}
	s.refused.Add(1)
	return ErrClosed
}

// drainLimit is limit as a handler must read it, after loading what is
// available (Q3).
func (s *sequencer) drainLimit() int64 {
	lim := s.limit.Load()
	if lim == pendingLimit {
		<-s.targetSet // stored just before it was closed
		lim = s.limit.Load()
	}
	return lim
}

// acceptedBeforeClose is the slow half of Q4, for a producer that saw the
// disruptor closing after it claimed or published hi.
func (s *sequencer) acceptedBeforeClose(hi int64) bool {
	<-s.targetSet
	if hi <= s.target {
		return true
	}
	s.refused.Add(1)
	return false
}
