package bench_test

import (
	"fmt"

	"github.com/ringcast/ringcast/bench"
)

// Run one scenario and read its accounting: with a lossless strategy every
// reader gets every event, whatever the timing.
func ExampleRun() {
	sc := bench.Scenario{Strategy: "chan-block", Readers: 3, Batch: 8, Payload: 64, Consumers: bench.AllFast}
	res, err := bench.Run(sc, bench.RunOptions{Events: 1000})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, c := range res.Consumers {
		fmt.Printf("reader %d: %d delivered, %d lost\n", i, c.Delivered, c.Lost)
	}
	// Output:
	// reader 0: 1000 delivered, 0 lost
	// reader 1: 1000 delivered, 0 lost
	// reader 2: 1000 delivered, 0 lost
}

// A stalled reader costs a lossy strategy events, and the strategy says how
// many: the run checks that every gap a reader saw was reported.
func ExampleRun_stalledReader() {
	sc := bench.Scenario{Strategy: "ring-blocking", Readers: 2, Batch: 1, Payload: 64, Consumers: bench.OneStalled, Capacity: 64}
	res, err := bench.Run(sc, bench.RunOptions{Events: 10_000})
	if err != nil {
		fmt.Println(err)
		return
	}
	stalled := res.Consumers[0]
	fmt.Println("stalled reader lost events:", stalled.Lost > 0)
	fmt.Println("every loss reported by the ring:", stalled.Lost == stalled.Reported)
	// Output:
	// stalled reader lost events: true
	// every loss reported by the ring: true
}

// Parse a scenario from its benchmark name or an alias.
func ExampleParseScenario() {
	sc, err := bench.ParseScenario("BenchmarkFanout/strategy=chan-drop-oldest/readers=64/consumers=slow10/rate=10k-2")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sc.Strategy, sc.Readers, sc.Consumers, sc.Rate)
	sc, _ = bench.ParseScenario("stalled-16")
	fmt.Println(sc)
	// Output:
	// chan-drop-oldest 64 slow10 10000
	// strategy=ring-adaptive/readers=16/batch=1/payload=64/consumers=stalled/rate=10k
}
