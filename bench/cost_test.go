package bench_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/ringcast/ringcast/bench"
)

// The cost view measures something and refuses what it cannot measure.
func TestCost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the cost view reads a per-thread CPU clock on Linux only")
	}
	sc := bench.Scenario{Strategy: "ring-adaptive", Readers: 2, Batch: 1, Payload: 64, Consumers: bench.AllFast, Rate: 20_000}
	res, err := bench.Cost(sc, bench.CostOptions{Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries == 0 || res.CPUPerDelivery <= 0 || res.Result.CPU <= 0 {
		t.Fatalf("nothing measured: %+v", res)
	}
	if runtime.GOMAXPROCS(0) >= 2 && (res.IdleWake50 <= 0 || res.IdleWake90 < res.IdleWake50) {
		t.Errorf("idle wake-up p50 %v, p90 %v: want both measured, p50 <= p90", res.IdleWake50, res.IdleWake90)
	}
	sc.Rate = 0
	if _, err := bench.Cost(sc, bench.CostOptions{}); err == nil {
		t.Fatal("Cost ran without a rate")
	}
}
