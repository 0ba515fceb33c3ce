package bench

import "fmt"

// Two views beside the matrix, with fixed scenarios: BenchmarkEqualMemory
// and BenchmarkCost run them, and the report reads them by these names.

// equalMemoryStrategies are the strategies with one buffer for all readers.
// A channel fan-out holds Capacity events per reader, so at N readers these
// get N × Capacity slots to hold what the channels hold.
var equalMemoryStrategies = []string{"ring-adaptive", "disruptor"}

// viewReaders are the reader counts of both views.
var viewReaders = []int{1, 16, 256}

// EqualMemoryScenarios are the equal-memory view's scenarios: the ring and
// the disruptor, every reader fast, batch 1, with DefaultCapacity × readers
// slots. Their sustained rates compare with the channels' in the
// Sustained matrix, whose channels hold DefaultCapacity each.
func EqualMemoryScenarios() []Scenario {
	var out []Scenario
	for _, strat := range equalMemoryStrategies {
		for _, n := range viewReaders {
			out = append(out, Scenario{Strategy: strat, Readers: n, Batch: 1, Payload: DefaultPayload,
				Consumers: AllFast, Capacity: n * DefaultCapacity})
		}
	}
	return out
}

// EqualMemoryName is the sub-benchmark name of an equal-memory scenario.
func (s Scenario) EqualMemoryName() string {
	return fmt.Sprintf("%s/capacity=%d", s.SustainedName(), s.capacity())
}

// CostStrategies are the cost view's strategies.
var CostStrategies = []string{"ring-adaptive", "ring-sleeping", "ring-blocking", "disruptor", "chan-drop-oldest", "chan-block"}

// CostRate is the cost view's rate at n readers: 100k events/s up to 16
// readers, 10k beyond (2.56M deliveries/s at 256; channels sustain about
// 10M on two cores), a rate every strategy sustains.
func CostRate(n int) int {
	if n > 16 {
		return 10_000
	}
	return 100_000
}

// CostScenarios are the cost view's scenarios: each of CostStrategies at 1,
// 16 and 256 readers, every reader fast, batch 1, paced at CostRate.
func CostScenarios() []Scenario {
	var out []Scenario
	for _, strat := range CostStrategies {
		for _, n := range viewReaders {
			out = append(out, Scenario{Strategy: strat, Readers: n, Batch: 1, Payload: DefaultPayload,
				Consumers: AllFast, Rate: CostRate(n)})
		}
	}
	return out
}

// CostName is the sub-benchmark name of a cost scenario.
func (s Scenario) CostName() string {
	return fmt.Sprintf("strategy=%s/readers=%d/rate=%s", s.Strategy, s.Readers, formatRate(s.Rate))
}
