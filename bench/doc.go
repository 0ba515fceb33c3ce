// Package bench is ringcast's in-process fan-out benchmark suite: one
// publisher, N consumers, and every broadcast strategy a Go programmer is
// likely to reach for, run by the same driver with the same payloads.
//
// Strategies (see Strategies): the ring (its default Adaptive wait, and
// Sleeping, Blocking, Yielding and BusySpin), the
// lossless disruptor, a buffered channel per consumer with each of the classic
// back-pressure policies (drop-oldest, drop-newest, block, unbounded), and a
// mutex + sync.Cond broadcast queue, the lock-based design of tokio's
// broadcast channel. Each sits behind the small [Fanout] interface; the driver
// ([Run]) publishes numbered events, and per-consumer [Sink]s check that what
// arrives adds up: sequences strictly increase, every gap is a loss the
// strategy itself reported, lossless strategies lose nothing, and no payload is
// torn.
//
// A [Scenario] fixes the strategy, the number of readers, the publish batch,
// the payload size, the consumer profile (all fast, one stalled, 10% slow) and
// the publish rate (as fast as possible, or paced). The suite's benchmarks
// (BenchmarkFanout, in bench_timing_test.go) run a matrix of scenarios as
// ordinary `go test -bench` sub-benchmarks and report the custom measures with
// b.ReportMetric, so the raw output is standard benchfmt:
//
//	pub-ev/s        events published per second (the publisher's own rate)
//	deliv/s         events delivered per second, summed over consumers
//	loss-frac       events dropped by the strategy / (published × readers)
//	ok-loss-frac    the same over healthy (fast) consumers only
//	slow-loss-frac  the same over slow or stalled consumers only
//	p50-ns, p99-ns  healthy consumers' latency, publish to receipt, sampled
//	pub-late-p99-ns paced runs: how late the publisher published (it was held back)
//	peak-heap-B     peak live heap growth during the run (unbounded queues grow)
//	B/op, allocs/op per published event
//
// Two views outside the matrix: BenchmarkEqualMemory (BenchmarkSustained with
// the ring and the disruptor given the memory the channels hold) and
// BenchmarkCost ([Cost]: CPU per delivery, cpu-ns/deliv, and p99 at a fixed
// rate every strategy sustains, with the machine's idle wake-up before each
// run, idle-wake-p50-ns and idle-wake-p90-ns: [IdleWake]).
//
// `ringcast bench run` (what `make bench` calls) runs the matrix, keeps the
// raw output under bench/results/ and writes docs/benchmarks.md with charts;
// `ringcast bench report OLD NEW` compares two result files with significance
// tests; `ringcast bench profile --scenario NAME` profiles one scenario.
package bench
