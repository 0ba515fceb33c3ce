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
					groups: top.groups, events: 12000 / sequencer.producers, maxClaim: maxClaim, seed: 1,
				}
				t.Run(fmt.Sprintf("%s/%v/claim=%d", top.name, sequencer.p, maxClaim), func(t *testing.T) {
					t.Parallel()
					sc.run(t)
				})
			}
		}
	}
}
