package disruptor

// The multi-producer sequencer.
//
// Producers claim with one atomic add on the cursor, so claims never retry
// under contention (a CAS loop does, and degrades with the number of
// producers); only TryClaim uses CAS, because it must not claim when the
// ring is full. Producers then publish out of order, each into the
// availability buffer, and readers find the highest contiguous published
// sequence by scanning it.
//
// Invariants:
//   M1. cursor is the highest claimed sequence. Claims are disjoint ranges
//       (atomic add / CAS), so every sequence has exactly one producer.
//   M2. avail[s & mask] holds the lap s >> shift of the last sequence
//       published in that slot (-1 before the first lap). Sequence s is
//       published exactly when avail[s & mask] == int32(s >> shift). The
//       two laps that can share a slot, s - size and s, differ by one, so the
//       int32 truncation never confuses them.
//   M3. A producer writes its entries, then stores each lap with an atomic
//       store; a reader loads the lap before it reads the entry (S3). A slot
//       of lap L+1 is published only after its producer passed the gate
//       (Q1), i.e. after every handler finished lap L in that slot.
//   M4. A claim is made before its producer waits for space, so it cannot
//       be withdrawn. Shutdown's target is the claim cursor (Q4), which may
//       include claims still being filled or waiting for space; those
//       producers keep going (their entries are inside the target and the
//       handlers drain towards them), and give up only on a halt.
//   M5. highestPublished(lo, hi) scans lo..hi and stops before the first
//       unpublished sequence; readers start the scan at their own next
//       sequence, so each slot is looked at about once per reader and lap.
//   M6. Publishing a claim lo..hi writes the flags of lo+1..hi with plain
//       stores and then the flag of lo with an atomic store, last; readers
//       load every flag atomically. A reader loads the flag of a sequence
//       only after it saw the flag of the sequence before it published (the
//       scan of M5 stops at the first unpublished one, and a reader whose
//       next is x has processed x-1). So it reads the flag of x in lo+1..hi
//       only after it saw lo's atomic store, which the plain stores happen
//       before: no race, and a batch costs one XCHG instead of hi-lo+1. The
//       flag of the previous lap in the same slot was read by every reader
//       before the producer passed the gate (Q1), so that is ordered too.

import "sync/atomic"

// claimMulti claims n sequences for one of several producers and waits for
// space; it returns the highest claimed sequence.
func (s *sequencer) claimMulti(n int64) (int64, error) {
	if err := s.checkRunning(); err != nil {
		return 0, err
	}
	return s.claimMultiChecked(n)
}

// claimMultiChecked is claimMulti after its state check; Shutdown may have
// begun in between, which the check after the add catches (Q4).
func (s *sequencer) claimMultiChecked(n int64) (int64, error) {
	hi := s.cursor.v.Add(n) // M1
	if err := s.claimedMulti(hi); err != nil {
		return 0, err
	}
	return hi, nil
}

// claimedMulti finishes a claim whose add returned hi: it refuses claims
// beyond the drain target (Q4) and waits for space (Q1, Q2, M4).
func (s *sequencer) claimedMulti(hi int64) error {
	if s.ctl.Load()&stateMask != stateRunning && !s.acceptedBeforeClose(hi) {
		return ErrClosed // Q4: beyond the drain target, never published
	}
	if wrap := hi - s.size; wrap > s.gateShared.v.Load() { // Q2: maybe full
		gate := minimumSequence(s.gating, hi)
		if wrap > gate {
			a := s.capacity.WaitFor(hi, &s.multiCap)
			if a < hi {
				s.refused.Add(1)
				return ErrClosed // halted (M4)
			}
			gate = a - s.size
		}
		s.gateShared.v.Store(gate)
	}
	return nil
}

// tryClaimMulti claims n sequences only if there is space for them now.
func (s *sequencer) tryClaimMulti(n int64) (int64, error) {
	if err := s.checkRunning(); err != nil {
		return 0, err
	}
	return s.tryClaimMultiChecked(n)
}

func (s *sequencer) tryClaimMultiChecked(n int64) (int64, error) {
	var hi int64
	for {
		cur := s.cursor.v.Load()
		hi = cur + n
		if wrap := hi - s.size; wrap > s.gateShared.v.Load() {
			gate := minimumSequence(s.gating, cur)
			if wrap > gate {
				s.full.Add(1)
				return 0, ErrFull
			}
			s.gateShared.v.Store(gate)
		}
		if s.cursor.v.CompareAndSwap(cur, hi) {
			break
		}
	}
	if s.state() != stateRunning && !s.acceptedBeforeClose(hi) {
		return 0, ErrClosed
	}
	return hi, nil
}

// publishMulti publishes lo..hi (M2, M3, M6).
func (s *sequencer) publishMulti(lo, hi int64) {
	for seq := hi; seq > lo; seq-- {
		s.avail[seq&s.mask] = int32(seq >> s.shift) // M6: ordered by lo's atomic store
	}
	atomic.StoreInt32(&s.avail[lo&s.mask], int32(lo>>s.shift))
	if s.ctl.Load() != stateRunning { // Q5
		s.wakeReaders()
	}
}

// publishOne is publishMulti for one sequence.
func (s *sequencer) publishOne(seq int64) {
	atomic.StoreInt32(&s.avail[seq&s.mask], int32(seq>>s.shift))
	if s.ctl.Load() != stateRunning { // Q5
		s.wakeReaders()
	}
}

// highestPublished returns the highest sequence h in [lo-1, hi] such that
// every sequence in lo..h is published (M5).
func (s *sequencer) highestPublished(lo, hi int64) int64 {
	for seq := lo; seq <= hi; seq++ {
		if atomic.LoadInt32(&s.avail[seq&s.mask]) != int32(seq>>s.shift) {
			return seq - 1
		}
	}
	return hi
}
