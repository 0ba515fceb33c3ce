package benchdoc

import (
	"fmt"
	"strings"

	"github.com/ringcast/ringcast/bench"
	"github.com/ringcast/ringcast/internal/benchreport"
	"github.com/ringcast/ringcast/internal/report"
)

// The ring's two views beside the matrix: equal memory and cost at a fixed
// rate (bench.EqualMemoryScenarios, bench.CostScenarios).

// viewScenario is the scenario of a view's list for strategy at n readers.
func viewScenario(list []bench.Scenario, strategy string, n int) (bench.Scenario, bool) {
	for _, sc := range list {
		if sc.Strategy == strategy && sc.Readers == n {
			return sc, true
		}
	}
	return bench.Scenario{}, false
}

// equalMemory is strategy's sustained deliveries at n readers with the
// channels' memory.
func (d *doc) equalMemory(strategy string, n int) (benchreport.Stat, bool) {
	sc, ok := viewScenario(bench.EqualMemoryScenarios(), strategy, n)
	if !ok {
		return benchreport.Stat{}, false
	}
	return benchreport.Summarize(d.set.Values("EqualMemory/"+sc.EqualMemoryName(), bench.UnitSustainedDeliveries))
}

// cost is strategy's cost view at n readers, in unit.
func (d *doc) cost(strategy string, n int, unit string) (benchreport.Stat, bool) {
	sc, ok := viewScenario(bench.CostScenarios(), strategy, n)
	if !ok {
		return benchreport.Stat{}, false
	}
	return benchreport.Summarize(d.set.Values("Cost/"+sc.CostName(), unit))
}

func (d *doc) equalMemorySection() {
	// The ring and the disruptor at N × the capacity; the channels as the
	// sustained table has them, which is the same memory.
	get := func(strategy string, n int) (benchreport.Stat, bool) {
		if s, ok := d.equalMemory(strategy, n); ok {
			return s, true
		}
		if strings.HasPrefix(strategy, "chan-") {
			return d.sustained(flat(strategy, n, 1, bench.DefaultPayload), bench.UnitSustainedDeliveries)
		}
		return benchreport.Stat{}, false
	}
	var readers []int
	for _, n := range bench.ReaderCounts {
		if _, ok := d.equalMemory(Subject, n); ok {
			readers = append(readers, n)
		}
	}
	if len(readers) == 0 {
		return
	}
	d.p("## Equal memory\n\n")
	d.p("A channel fan-out holds a buffer per reader: %d events each, %d × N at N readers. The ring and the disruptor hold one buffer for all, so here (`BenchmarkEqualMemory`) they get %d × N slots, the channels' memory; the channels' figures are their sustained ones above. Sustained deliveries/s, batch 1:\n\n",
		bench.DefaultCapacity, bench.DefaultCapacity, bench.DefaultCapacity)
	d.readerTable(readers, get, report.SI, true)
}

func (d *doc) costSection() {
	var readers []int
	for _, n := range bench.ReaderCounts {
		if _, ok := d.cost(Subject, n, bench.UnitCPUPerDelivery); ok {
			readers = append(readers, n)
		}
	}
	if len(readers) == 0 {
		return
	}
	d.p("## Cost at a fixed rate\n\n")
	d.p("What a user pays at a rate every strategy sustains (`BenchmarkCost`): every reader fast, batch 1, the publisher paced. CPU per delivery counts the readers, the runtime's work for them (scheduling, wake-ups, GC) and the publisher's time inside Publish, where a strategy wakes its readers, not the publisher's pacing (`bench.Cost`); p99 is the readers' latency from publish to hand-over. Ratios are to %s.\n\n", Baseline)
	head := []string{"strategy"}
	for _, n := range readers {
		rate := report.SI(float64(bench.CostRate(n)))
		head = append(head, fmt.Sprintf("%s at %s/s: CPU per delivery", report.Plural(n, "reader"), rate), "p99")
	}
	t := &report.Table{Head: head}
	for _, strat := range bench.CostStrategies {
		row := []string{"`" + strat + "`"}
		found := false
		for _, n := range readers {
			for _, unit := range []string{bench.UnitCPUPerDelivery, bench.UnitP99} {
				s, ok := d.cost(strat, n, unit)
				if !ok {
					row = append(row, "")
					continue
				}
				found = true
				cell := withSpread(s, report.Seconds)
				if base, ok := d.cost(Baseline, n, unit); ok && strat != Baseline {
					cell += " (" + fmtRatio(base, s) + ")"
				}
				row = append(row, cell)
			}
		}
		if found {
			t.Add(row...)
		}
	}
	d.p("%s\n", t)
	d.idleWakeNote()
}
