package disruptor

import (
	"encoding/binary"
	"testing"
	"testing/quick"
	"time"
)

// scenarioFromBytes decodes an arbitrary input into a small, valid scenario:
// a ring of 2..64 entries, either sequencer with 1..4 producers, a
// non-spinning wait strategy, claims of up to the ring size, and a random
// DAG of up to 4 groups (8 handlers) where each group runs after any subset
// of the groups before it.
func scenarioFromBytes(data []byte) scenario {
	var b [24]byte
	copy(b[:], data)
	sc := scenario{sizeLog: 1 + int(b[0])%6, producers: 1, maxClaim: 1}
	if b[1]&1 == 1 {
		sc.producer = MultiProducer
		sc.producers = 1 + int(b[1]>>1)%4
	} else {
		sc.producer = SingleProducer
	}
	strategies := []WaitStrategy{
		Blocking{}, Blocking{Spins: 3}, condStrategy{}, Yielding{Spins: -1},
		Sleeping{Spins: -1, Yields: 2, Sleep: time.Microsecond, MaxSleep: 20 * time.Microsecond},
	}
	sc.wait = strategies[int(b[2])%len(strategies)]
	sc.maxClaim = 1 + int(b[3])%(1<<sc.sizeLog)
	groups := 1 + int(b[4])%4
	handlers := 0
	for g := range groups {
		n := 1 + int(b[5+2*g])%3
		if handlers+n > maxHandlers {
			break
		}
		handlers += n
		spec := groupSpec{handlers: n}
		for a := range g {
			if b[6+2*g]>>a&1 == 1 {
				spec.after = append(spec.after, a)
			}
		}
		sc.groups = append(sc.groups, spec)
	}
	sc.events = 1 + int(binary.LittleEndian.Uint16(b[14:]))%400
	sc.seed = binary.LittleEndian.Uint64(b[16:])
	return sc
}

// TestRandomGraphsProperty: for random rings, sequencers, strategies, claim
// sizes and graphs, every handler sees every entry exactly once, in order,
// after its upstream handlers (checker), and Shutdown drains it all.
func TestRandomGraphsProperty(t *testing.T) {
	check := func(raw [24]byte) bool {
		sc := scenarioFromBytes(raw[:])
		sc.run(t)
		if t.Failed() {
			t.Logf("failing scenario: %v (input %x)", sc, raw)
			return false
		}
		return true
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 300 * soak}); err != nil {
		t.Fatal(err)
	}
}

// FuzzScenario is the same property for go test -fuzz; the seeds in
// testdata/fuzz/FuzzScenario cover each topology of the issue with both
// sequencers and run as ordinary tests.
func FuzzScenario(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		scenarioFromBytes(data).run(t)
	})
}
