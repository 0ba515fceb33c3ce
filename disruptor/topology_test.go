package disruptor

import (
	"fmt"
	"testing"
)

// TestTopologies runs every topology of the issue with both sequencers and
// checks, for every handler, that it saw every sequence exactly once and in
// order, that the entry held what the producer wrote, and that its upstream
// handlers had finished the entry (checker). The ring is small so that the
// producers wrap it hundreds of times and are gated on the slowest handler.
func TestTopologies(t *testing.T) {
	topologies := []struct {
		name   string
		groups []groupSpec
	}{
		{"unicast", unicast}, {"multicast", multicast}, {"pipeline", pipeline},
		{"diamond", diamond}, {"two-pipes", twoPipes},
	}
	for _, top := range topologies {
		for _, sequencer := range []struct {
			p         ProducerType
			producers int
		}{{SingleProducer, 1}, {MultiProducer, 4}} {
			for _, maxClaim := range []int{1, 16} {
				sc := scenario{
					sizeLog: 6, producer: sequencer.p, producers: sequencer.producers,
					groups: top.groups, events: soak * 100000 / sequencer.producers, maxClaim: maxClaim, seed: 1,
				}
				t.Run(fmt.Sprintf("%s/%v/claim=%d", top.name, sequencer.p, maxClaim), func(t *testing.T) {
					t.Parallel()
					sc.run(t)
				})
			}
		}
	}
}

// TestMultiProducerStress is the 4-producer stress: four goroutines
// publish with every method (Publish, PublishBatch, Claim/Commit and
// TryClaim retried on ErrFull) into a ring of 8, so claims constantly wrap
// and wait, into a diamond whose handlers check order, completeness,
// per-producer order and that the join never runs ahead of either branch.
func TestMultiProducerStress(t *testing.T) {
	for i, sizeLog := range []int{3, 5} {
		t.Run(fmt.Sprintf("size=%d", 1<<sizeLog), func(t *testing.T) {
			t.Parallel()
			scenario{sizeLog: sizeLog, producer: MultiProducer, producers: 4, groups: diamond,
				events: soak * 60000, maxClaim: 1 << sizeLog, seed: uint64(10 + i)}.run(t)
		})
	}
}
