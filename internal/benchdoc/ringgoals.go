package benchdoc

import (
	"fmt"
	"slices"

	"github.com/ringcast/ringcast/bench"
	"github.com/ringcast/ringcast/internal/benchreport"
	"github.com/ringcast/ringcast/internal/report"
)

// Lossless is the strategy the ring's goals compare with besides the
// baseline: the disruptor, whose writer waits for its readers.
const Lossless = "disruptor"

// ringGoal is one of issue 13's goals: got against want, met when got/want
// reaches the bound (at least) or stays under it (atMost).
type ringGoal struct {
	text      string
	got, want benchreport.Stat
	bound     float64
	atMost    bool
	format    func(float64) string
}

func (g ringGoal) row() []string {
	r := benchreport.Ratio(g.want, g.got)
	met := r >= g.bound
	if g.atMost {
		met = r <= g.bound
	}
	v := "**not met**"
	if met {
		v = "**met**"
	}
	c := benchreport.Compare(g.want, g.got)
	return []string{g.text, fmt.Sprintf("%s against %s: %s (%s)", g.format(g.got.Center), g.format(g.want.Center), ratioText(r), c.String()), v}
}

// ringGoals judges issue 13's goals for the ring's default wait on this run's
// medians, where the run measured them.
func (d *doc) ringGoals() {
	var goals []ringGoal
	sustained := func(strategy string, n int) (benchreport.Stat, bool) {
		return d.sustained(flat(strategy, n, 1, bench.DefaultPayload), bench.UnitSustainedDeliveries)
	}
	add := func(text string, got, want func() (benchreport.Stat, bool), bound float64, atMost bool, format func(float64) string) {
		g, ok1 := got()
		w, ok2 := want()
		if ok1 && ok2 {
			goals = append(goals, ringGoal{text, g, w, bound, atMost, format})
		}
	}
	for _, g := range []struct {
		readers int
		times   float64
	}{{1, 3}, {16, 20}, {256, 20}} {
		add(fmt.Sprintf("sustained deliveries at %s ≥ %.0f× %s's", report.Plural(g.readers, "reader"), g.times, Baseline),
			func() (benchreport.Stat, bool) { return sustained(Subject, g.readers) },
			func() (benchreport.Stat, bool) { return sustained(Baseline, g.readers) }, g.times, false, report.SI)
	}
	for _, n := range []int{16, 256} {
		add(fmt.Sprintf("sustained deliveries at %d readers ≥ the %s's", n, Lossless),
			func() (benchreport.Stat, bool) { return sustained(Subject, n) },
			func() (benchreport.Stat, bool) { return sustained(Lossless, n) }, 1, false, report.SI)
	}
	add(fmt.Sprintf("flat out, 1 reader: deliveries ≥ 80%% of the %s's", Lossless),
		func() (benchreport.Stat, bool) {
			return d.fanout(flat(Subject, 1, 1, bench.DefaultPayload), bench.UnitDeliveryRate)
		},
		func() (benchreport.Stat, bool) {
			return d.fanout(flat(Lossless, 1, 1, bench.DefaultPayload), bench.UnitDeliveryRate)
		}, 0.8, false, report.SI)
	if g, ok := d.flatOutNearLine(); ok {
		goals = append(goals, g)
	}
	const n = 16
	rate := report.SI(float64(bench.CostRate(n)))
	add(fmt.Sprintf("%s events/s, %d readers: CPU per delivery ≤ ⅓ of %s's", rate, n, Baseline),
		func() (benchreport.Stat, bool) { return d.cost(Subject, n, bench.UnitCPUPerDelivery) },
		func() (benchreport.Stat, bool) { return d.cost(Baseline, n, bench.UnitCPUPerDelivery) }, 1.0/3, true, report.Seconds)
	add(fmt.Sprintf("%s events/s, %d readers: readers' p99 no worse than %s's", rate, n, Baseline),
		func() (benchreport.Stat, bool) { return d.cost(Subject, n, bench.UnitP99) },
		func() (benchreport.Stat, bool) { return d.cost(Baseline, n, bench.UnitP99) }, 1, true, report.Seconds)
	if len(goals) == 0 {
		return
	}
	d.p("The goals of issue 13, for %s (the default wait) at capacity %d and batch 1, judged on this run's medians; the p-value in brackets says whether the two samples differ significantly (Mann–Whitney U).\n\n", Subject, bench.DefaultCapacity)
	t := &report.Table{Head: []string{"goal", "measured", "verdict"}, Align: "lll"}
	for _, g := range goals {
		t.Add(g.row()...)
	}
	d.p("%s\n", t)
	if trips := d.measured(bench.UnitLineTrip); len(trips) > 0 {
		d.p("The cache-line round trip between the machine's two processors (`%s`, probed before each run) went from %s to %s in this run. A flat-out ring with one reader slows down on a slow line, because its reader shares the lines the writer fills; the disruptor's gated reader works about a ring behind its writer and suffers less (docs/ring.md). The last flat-out row keeps only the runs within %d× the fastest round trip.\n\n",
			bench.UnitLineTrip, report.Seconds(slices.Min(trips)), report.Seconds(slices.Max(trips)), nearLine)
	}
	if wakes := d.measured(bench.UnitIdleWake90); len(wakes) > 0 {
		d.p("The two cost goals compare a strategy that leaves its readers' core idle between deliveries with one that keeps it busy: the ring's p99 there is its nap (about half a millisecond of values) plus the machine's idle wake-up, whose 90th percentile went from %s to %s in this run's cost runs (under \"Cost at a fixed rate\").\n\n",
			report.Seconds(slices.Min(wakes)), report.Seconds(slices.Max(wakes)))
	}
}

// flatOutNearLine is the flat-out goal judged on the runs made while the
// machine's line round trip was near its fastest (linetrip.go), when some
// runs of either side were not.
func (d *doc) flatOutNearLine() (ringGoal, bool) {
	got, gotAll, ok1 := d.fanoutNearLine(flat(Subject, 1, 1, bench.DefaultPayload), bench.UnitDeliveryRate)
	want, wantAll, ok2 := d.fanoutNearLine(flat(Lossless, 1, 1, bench.DefaultPayload), bench.UnitDeliveryRate)
	if !ok1 || !ok2 || (got.N == gotAll && want.N == wantAll) {
		return ringGoal{}, false
	}
	text := fmt.Sprintf("… the same, runs on the fast line only (%d of %d and %d of %d)", got.N, gotAll, want.N, wantAll)
	return ringGoal{text, got, want, 0.8, false, report.SI}, true
}
