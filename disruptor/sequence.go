package disruptor

// Sequences.
//
// Everything in the disruptor is coordinated through 64-bit sequence
// counters: the producers' cursor and one sequence per handler.
//
// Invariants:
//   S1. A sequence only grows, by stores, and it has exactly one writer: the
//       cursor of the single-producer sequencer is written by the producer,
//       a handler's sequence by that handler's goroutine. (The multi-producer
//       claim cursor is the one exception; it grows by atomic add or CAS.)
//   S2. A handler's sequence s means "this handler has finished every entry
//       up to and including s"; the cursor means "every entry up to s has
//       been claimed" (multi-producer) or "published" (single-producer).
//   S3. All access is through sync/atomic. Go's atomics are sequentially
//       consistent, so a store of s after plain writes to entries <= s and a
//       load that observes s form a happens-before edge: this is the only
//       thing that makes entries visible across goroutines.
//   S4. Every sequence sits alone in its own 128-byte-aligned block: padding
//       on both sides keeps writers of neighbouring fields (and the adjacent
//       cache line, which Intel's spatial prefetcher pulls in pairs) off it.
//       False sharing between the cursor and a handler's sequence would
//       make every publish invalidate the handler's line.

import (
	"math"
	"sync/atomic"
)

// cacheLinePad is two 64-byte lines: the adjacent-line prefetcher on x86
// fetches lines in 128-byte pairs, so 64 bytes of padding still shares.
const cacheLinePad = 128

// initialSequence is the value of every sequence before the first entry; the
// first claimed sequence is 0.
const initialSequence int64 = -1

// sequence is a padded atomic counter (S1–S4).
type sequence struct {
	_ [cacheLinePad]byte
	v atomic.Int64
	_ [cacheLinePad - 8]byte
}

func newSequence() *sequence {
	s := new(sequence)
	s.v.Store(initialSequence)
	return s
}

// minimumSequence returns the smallest value among seqs, or max when seqs is
// empty.
func minimumSequence(seqs []*sequence, max int64) int64 {
	m := max
	for _, s := range seqs {
		if v := s.v.Load(); v < m {
			m = v
		}
	}
	return m
}

// noLimit is the drain limit while the disruptor runs: handlers may process
// any published entry.
const noLimit int64 = math.MaxInt64

// haltLimit is the drain limit after a halt: below every sequence, so every
// handler stops at its next batch boundary.
const haltLimit int64 = math.MinInt64

// pendingLimit is the drain limit while Shutdown is choosing its target
// (Q4): a handler that reads it waits for the target (sequencer.drainLimit).
const pendingLimit int64 = math.MinInt64 + 1
