package bench_test

import (
	"flag"
	"testing"
	"time"

	"github.com/ringcast/ringcast/bench"
)

// BenchmarkFanout runs the scenario matrix named by $RINGCAST_BENCH_MATRIX
// (default, full or quick; see bench.Matrix), or the scenarios listed in
// $RINGCAST_BENCH_SCENARIOS. One op is one published event,
// so ns/op, B/op and allocs/op are per event; the suite's own measures are
// reported with b.ReportMetric (see the package documentation).
//
//	go test -run '^$' -bench Fanout -benchtime 200ms -count 5 ./bench
//	RINGCAST_BENCH_MATRIX=full go test -run '^$' -bench 'Fanout/strategy=ring' ./bench
//	RINGCAST_BENCH_SCENARIOS=strategy=ring-adaptive/readers=256/batch=1/payload=64/consumers=fast/rate=800k \
//	    go test -run '^$' -bench Fanout -benchtime 32000x -count 10 ./bench   # ten 40 ms runs
func BenchmarkFanout(b *testing.B) {
	matrix, err := bench.MatrixFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	for _, sc := range matrix {
		b.Run(sc.Name(), func(b *testing.B) {
			b.ReportAllocs()
			res, err := bench.Run(sc, bench.RunOptions{Events: b.N, StartTimer: b.ResetTimer, StopTimer: b.StopTimer, MaxTime: maxRunTime()})
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range res.Metrics() {
				b.ReportMetric(m.Value, m.Unit)
			}
			if res.Truncated {
				// Fewer than b.N events went out: per-op figures are per
				// event published, not per b.N.
				per := float64(res.Published)
				b.ReportMetric(float64(res.Elapsed.Nanoseconds())/per, "ns/op")
				b.ReportMetric(float64(res.Mallocs)/per, "allocs/op")
				b.ReportMetric(float64(res.AllocBytes)/per, "B/op")
			}
		})
	}
}

// BenchmarkSustained searches, for each strategy, reader count and batch,
// the highest publish rate every fast consumer keeps up with (see
// bench.Sustained). One op is one whole search, so run it with -benchtime 1x;
// the result is in the sustained-ev/s and sustained-deliv/s metrics.
//
//	go test -run '^$' -bench Sustained -benchtime 1x -count 5 ./bench
func BenchmarkSustained(b *testing.B) {
	matrix, err := bench.SustainedMatrixFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	for _, sc := range matrix {
		b.Run(sc.SustainedName(), func(b *testing.B) {
			var rate, deliv, probes float64
			for range b.N {
				res, err := bench.Sustained(sc, bench.SustainOptions{})
				if err != nil {
					b.Fatal(err)
				}
				rate += res.Rate
				deliv += res.Deliveries
				probes += float64(res.Probes)
			}
			n := float64(b.N)
			b.ReportMetric(rate/n, bench.UnitSustainedRate)
			b.ReportMetric(deliv/n, bench.UnitSustainedDeliveries)
			b.ReportMetric(probes/n, "probes/op")
		})
	}
}

// maxRunTime caps one run at four times -benchtime (at least a second), so
// that an overgrown b.N cannot turn a 300 ms benchmark into a 13 s one; with
// -benchtime Nx there is no cap.
func maxRunTime() time.Duration {
	f := flag.Lookup("test.benchtime")
	if f == nil {
		return 0
	}
	d, err := time.ParseDuration(f.Value.String())
	if err != nil {
		return 0
	}
	return max(4*d, time.Second)
}

// BenchmarkEqualMemory is BenchmarkSustained at equal memory: channel
// strategies hold one buffer of Capacity events per reader, the ring and the
// disruptor one buffer for all readers, so here those two get Capacity ×
// readers slots (channels' figures at the same memory are BenchmarkSustained's).
//
//	go test -run '^$' -bench EqualMemory -benchtime 1x -count 3 ./bench
func BenchmarkEqualMemory(b *testing.B) {
	for _, sc := range bench.EqualMemoryScenarios() {
		b.Run(sc.EqualMemoryName(), func(b *testing.B) {
			var deliv float64
			for range b.N {
				res, err := bench.Sustained(sc, bench.SustainOptions{})
				if err != nil {
					b.Fatal(err)
				}
				deliv += res.Deliveries
			}
			b.ReportMetric(deliv/float64(b.N), bench.UnitSustainedDeliveries)
		})
	}
}

// BenchmarkCost is the cost view (bench.Cost): CPU per delivery and readers'
// p99 latency at a rate every strategy sustains: 100k events/s at 1 and 16
// readers, 10k at 256 (2.56M deliveries/s; channels sustain about 10M), and
// the machine's idle wake-up just before each run (bench.IdleWake).
//
//	go test -run '^$' -bench Cost -benchtime 1x -count 3 ./bench
func BenchmarkCost(b *testing.B) {
	for _, sc := range bench.CostScenarios() {
		b.Run(sc.CostName(), func(b *testing.B) {
			var cpu, p99, loss, wake50, wake90 float64
			for range b.N {
				res, err := bench.Cost(sc, bench.CostOptions{})
				if err != nil {
					b.Fatal(err)
				}
				cpu += float64(res.CPUPerDelivery)
				p99 += float64(res.P99)
				loss += res.Loss
				wake50 += float64(res.IdleWake50)
				wake90 += float64(res.IdleWake90)
			}
			n := float64(b.N)
			b.ReportMetric(cpu/n, bench.UnitCPUPerDelivery)
			b.ReportMetric(p99/n, bench.UnitP99)
			b.ReportMetric(loss/n, bench.UnitLoss)
			b.ReportMetric(wake50/n, bench.UnitIdleWake50)
			b.ReportMetric(wake90/n, bench.UnitIdleWake90)
		})
	}
}
