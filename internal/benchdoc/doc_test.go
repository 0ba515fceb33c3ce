package benchdoc

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringcast/ringcast/bench"
	"github.com/ringcast/ringcast/internal/benchreport"
)

// synthetic writes five runs of a scenario's metrics, each value v scaled by
// 1, 1.01, 0.99, 1.02, 0.98.
func synthetic(b *strings.Builder, name string, metrics map[string]float64) {
	for _, k := range []float64{1, 1.01, 0.99, 1.02, 0.98} {
		fmt.Fprintf(b, "Benchmark%s-2 \t 1000 \t 1000 ns/op", name)
		for unit, v := range metrics {
			fmt.Fprintf(b, " \t %g %s", v*k, unit)
		}
		b.WriteString("\n")
	}
}

func TestWriteDocJudgesTheGoals(t *testing.T) {
	var in strings.Builder
	in.WriteString("cpu: Test CPU\ngoos: linux\ngoarch: amd64\n")
	sust := func(strategy string, readers int, deliv float64) {
		sc := bench.Scenario{Strategy: strategy, Readers: readers, Batch: 1, Payload: 64}
		synthetic(&in, "Sustained/"+sc.SustainedName(), map[string]float64{bench.UnitSustainedDeliveries: deliv})
	}
	sust("ring-adaptive", 16, 50e6) // 12.5× the baseline: met
	sust("chan-drop-oldest", 16, 4e6)
	sust("ring-adaptive", 256, 100e6) // 20×: not met
	sust("chan-drop-oldest", 256, 5e6)
	paced := func(strategy string, mix bench.Mix, p99, late, heap float64) {
		sc := bench.Scenario{Strategy: strategy, Readers: 16, Batch: 1, Payload: 64, Consumers: mix, Rate: bench.DefaultRate}
		synthetic(&in, "Fanout/"+sc.Name(), map[string]float64{bench.UnitP99: p99, bench.UnitPublishLate: late,
			bench.UnitPeakHeap: heap, bench.UnitDeliveryRate: 150e3, bench.UnitSlowLoss: 0.5})
	}
	paced("ring-adaptive", bench.AllFast, 100e3, 1e6, 1e5)
	paced("ring-adaptive", bench.OneStalled, 104e3, 1e6, 1e5) // +4%: met, no harm
	paced("chan-block", bench.AllFast, 150e3, 1e6, 1e5)
	paced("chan-block", bench.OneStalled, 160e3, 900e6, 1e5) // publisher held back
	paced("chan-unbounded", bench.AllFast, 150e3, 1e6, 1e5)
	paced("chan-unbounded", bench.OneStalled, 150e3, 1e6, 64e6) // memory grows
	set, err := benchreport.Parse(strings.NewReader(in.String()), "synthetic.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	docPath := filepath.Join(dir, "docs", "benchmarks.md")
	err = WriteDoc(docPath, set, DocOptions{Command: "test", ResultsLink: "../results.txt", ImgDir: filepath.Join(dir, "docs", "img"), ImgLink: "img", Count: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	requireAll(t, doc,
		"| ring-adaptive delivers ≥ 10× chan-drop-oldest's events/s at 16 readers | sustained, batch 1: 12× (50M vs 4M) | **met** |",
		"| ring-adaptive delivers ≥ 30× chan-drop-oldest's events/s at 256 readers | sustained, batch 1: 20× (100M vs 5M) | **not met** |",
		"healthy readers' p99 100µs → 104µs with one stalled (+4.0%",
		"it hurts the others with chan-block (publisher held back, p99 900ms late), chan-unbounded (memory grows to 61.04MiB (paced))",
		"the others are unaffected with ring-adaptive.",
		"![sustained deliveries/s vs readers, batch 1](img/bench-sustained.svg)",
		"Test CPU, GOMAXPROCS=2",
	)
	if t.Failed() {
		t.Logf("report:\n%s", doc)
	}
	for _, chart := range []string{ChartSustained, ChartP99, ChartLoss} {
		svg, err := os.ReadFile(filepath.Join(dir, "docs", "img", chart))
		if err != nil {
			t.Errorf("chart %s: %v", chart, err)
			continue
		}
		if !bytes.HasPrefix(svg, []byte("<?xml")) || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("ring-adaptive")) {
			t.Errorf("chart %s is not an SVG naming the strategies", chart)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "docs", "img", ChartSustained64)); err == nil {
		t.Error("batch-64 chart drawn without batch-64 data")
	}
}

func TestWriteDocNeedsResults(t *testing.T) {
	set, _ := benchreport.Parse(strings.NewReader("BenchmarkOther/x-2 \t 1000 \t 1 ns/op\n"), "x.txt")
	if err := WriteDoc(filepath.Join(t.TempDir(), "b.md"), set, DocOptions{}); err == nil {
		t.Error("report written without any Fanout or Sustained result")
	}
}

// A run on part of the matrix (ringcast bench run --filter) writes a partial
// report. With one reader count the charts' log axes hold one value each,
// which gonum's log scale cannot span by itself (it panicked).
func TestWriteDocFromPartialResults(t *testing.T) {
	var in strings.Builder
	in.WriteString("cpu: Test CPU\ngoos: linux\ngoarch: amd64\n")
	for _, st := range []string{"ring-blocking", "chan-drop-oldest"} {
		sc := bench.Scenario{Strategy: st, Readers: 1, Batch: 1, Payload: 64}
		synthetic(&in, "Sustained/"+sc.SustainedName(), map[string]float64{bench.UnitSustainedDeliveries: 4e6})
		sc.Consumers = bench.AllFast
		synthetic(&in, "Fanout/"+sc.Name(), map[string]float64{bench.UnitDeliveryRate: 9e6, bench.UnitLoss: 0})
	}
	doc, dir := writeReport(t, in.String())
	for _, chart := range []string{ChartSustained, ChartFlatOut} {
		if _, err := os.Stat(filepath.Join(dir, "img", chart)); err != nil {
			t.Errorf("chart %s: %v", chart, err)
		}
		if !strings.Contains(doc, "(img/"+chart+")") {
			t.Errorf("report does not show %s", chart)
		}
	}
	// Charts without data are left out, not drawn empty.
	for _, chart := range []string{ChartSustained64, ChartP99, ChartLoss} {
		if _, err := os.Stat(filepath.Join(dir, "img", chart)); err == nil {
			t.Errorf("chart %s drawn without data", chart)
		}
	}
}

// The load averages the suite writes before each part reach the report's
// header, which says the machine was shared only when they show it.
func TestLoadAveragesReachTheHeader(t *testing.T) {
	in := "ringcast-load-1: 0.50\nBenchmarkFanout/x-2 \t 1 \t 1 ns/op\n" +
		"ringcast-load-2: 1.70\nBenchmarkSustained/y-2 \t 1 \t 1 ns/op\n"
	set, err := benchreport.Parse(strings.NewReader(in), "load.txt")
	if err != nil {
		t.Fatal(err)
	}
	load := loadAverages(set)
	if fmt.Sprint(load) != "[0.5 1.7]" {
		t.Fatalf("load averages %v, want [0.5 1.7]", load)
	}
	if s := loadText(load); !strings.Contains(s, "0.50 to 1.70") || strings.Contains(s, "was shared") {
		t.Errorf("quiet run: %q", s)
	}
	if s := loadText([]float64{0.4, 5.25}); !strings.Contains(s, "was shared") || !strings.Contains(s, "5.25") {
		t.Errorf("loaded run: %q", s)
	}
	if s := loadText(nil); !strings.Contains(s, "not recorded") {
		t.Errorf("no record: %q", s)
	}
}

// The equal-memory and cost views reach the report, and issue 13's goals are
// judged on them and on the sustained and flat-out rows: at least a bound,
// or at most one.
func TestWriteDocJudgesTheRingGoals(t *testing.T) {
	var in strings.Builder
	in.WriteString("cpu: Test CPU\ngoos: linux\ngoarch: amd64\n")
	sc := func(strategy string, n int) bench.Scenario {
		return bench.Scenario{Strategy: strategy, Readers: n, Batch: 1, Payload: 64, Consumers: bench.AllFast}
	}
	sust := func(strategy string, n int, deliv float64) {
		synthetic(&in, "Sustained/"+sc(strategy, n).SustainedName(), map[string]float64{bench.UnitSustainedDeliveries: deliv})
	}
	sust("ring-adaptive", 1, 2.5e6) // 2.5× the baseline: under 3×, not met
	sust("chan-drop-oldest", 1, 1e6)
	sust("ring-adaptive", 16, 100e6) // 25×: met; 1.25× the disruptor: met
	sust("chan-drop-oldest", 16, 4e6)
	sust("disruptor", 16, 80e6)
	flat := func(strategy string, deliv float64) {
		synthetic(&in, "Fanout/"+sc(strategy, 1).Name(), map[string]float64{bench.UnitDeliveryRate: deliv, bench.UnitLoss: 0})
	}
	flat("ring-adaptive", 21e6) // 84% of the disruptor: met
	flat("disruptor", 25e6)
	eq := func(strategy string, n int, deliv float64) {
		s := sc(strategy, n)
		s.Capacity = n * bench.DefaultCapacity
		synthetic(&in, "EqualMemory/"+s.EqualMemoryName(), map[string]float64{bench.UnitSustainedDeliveries: deliv})
	}
	eq("ring-adaptive", 16, 200e6)
	eq("disruptor", 16, 90e6)
	cost := func(strategy string, cpu, p99 float64) {
		s := sc(strategy, 16)
		s.Rate = bench.CostRate(16)
		synthetic(&in, "Cost/"+s.CostName(), map[string]float64{bench.UnitCPUPerDelivery: cpu, bench.UnitP99: p99, bench.UnitLoss: 0})
	}
	cost("ring-adaptive", 100, 600e3) // CPU 0.2×: met; p99 1.5×: not met
	cost("chan-drop-oldest", 500, 400e3)
	doc, _ := writeReport(t, in.String())
	requireAll(t, doc,
		"| sustained deliveries at 1 reader ≥ 3× chan-drop-oldest's | 2.5M against 1M: 2.5× (",
		"| sustained deliveries at 16 readers ≥ 20× chan-drop-oldest's | 100M against 4M: 25× (",
		"| sustained deliveries at 16 readers ≥ the disruptor's | 100M against 80M: 1.2× (",
		"| flat out, 1 reader: deliveries ≥ 80% of the disruptor's | 21M against 25M: 0.84× (",
		"| 100k events/s, 16 readers: CPU per delivery ≤ ⅓ of chan-drop-oldest's | 100ns against 500ns: 0.2× (",
		"| 100k events/s, 16 readers: readers' p99 no worse than chan-drop-oldest's | 600µs against 400µs: 1.5× (",
		"## Equal memory",
		"| `ring-adaptive` | 200M ±2% (50×) |",
		"## Cost at a fixed rate",
		"| `ring-adaptive` | 100ns ±2% (0.2×) | 600µs ±2% (1.5×) |",
	)
	verdicts := map[string]string{
		"at 1 reader ≥ 3×": "**not met**", "at 16 readers ≥ 20×": "**met**", "≥ the disruptor's": "**met**",
		"≥ 80%": "**met**", "≤ ⅓": "**met**", "no worse": "**not met**",
	}
	for goal, verdict := range verdicts {
		found := false
		for _, line := range strings.Split(doc, "\n") {
			if strings.Contains(line, goal) && strings.HasPrefix(line, "| ") {
				found = true
				if !strings.HasSuffix(line, "| "+verdict+" |") {
					t.Errorf("goal %q: %q, want %s", goal, line, verdict)
				}
			}
		}
		if !found {
			t.Errorf("goal %q not in the report", goal)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", doc)
	}
}

// writeReport writes the report of results into a temporary directory, its
// charts under img/, and returns the report and the directory.
func writeReport(t *testing.T, results string) (string, string) {
	t.Helper()
	set, err := benchreport.Parse(strings.NewReader(results), "synthetic.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	docPath := filepath.Join(dir, "benchmarks.md")
	if err := WriteDoc(docPath, set, DocOptions{Command: "test", ImgDir: filepath.Join(dir, "img"), ImgLink: "img"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), dir
}

// requireAll fails t for each of wants that doc lacks.
func requireAll(t *testing.T, doc string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestWriteDocJudgesFlatOutOnTheFastLineToo(t *testing.T) {
	results := func(ringSlow, disruptorSlow int) string {
		var in strings.Builder
		in.WriteString("cpu: Test CPU\ngoos: linux\ngoarch: amd64\n")
		run := func(strategy string, deliv, rtt float64) {
			sc := bench.Scenario{Strategy: strategy, Readers: 1, Batch: 1, Payload: 64, Consumers: bench.AllFast}
			fmt.Fprintf(&in, "BenchmarkFanout/%s-2 \t 1000 \t 40 ns/op \t %g %s \t %g %s \t 0 %s\n",
				sc.Name(), deliv, bench.UnitDeliveryRate, rtt, bench.UnitLineTrip, bench.UnitLoss)
		}
		for i := range 6 {
			if i < ringSlow {
				run("ring-adaptive", 8e6, 330)
			} else {
				run("ring-adaptive", 22e6+float64(i), 60+float64(i))
			}
			if i < disruptorSlow {
				run("disruptor", 20e6, 340)
			} else {
				run("disruptor", 27e6+float64(i), 70)
			}
		}
		return in.String()
	}
	doc, _ := writeReport(t, results(3, 1))
	requireAll(t, doc,
		"| flat out, 1 reader: deliveries ≥ 80% of the disruptor's | 15M against 27M: 0.56× (",
		"| … the same, runs on the fast line only (3 of 6 and 5 of 6) | 22M against 27M: 0.81× (",
		"(`line-rtt-ns`, probed before each run) went from 63ns to 340ns",
	)
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "| … the same, runs on the fast line only") && !strings.HasSuffix(line, "| **met** |") {
			t.Errorf("fast-line goal: %q, want met", line)
		}
	}
	if doc, _ := writeReport(t, results(0, 0)); strings.Contains(doc, "runs on the fast line only") {
		t.Error("a run that never left the fast line repeats the flat-out goal")
	}
	if t.Failed() {
		t.Logf("report:\n%s", doc)
	}
}

func TestWriteDocGivesTheIdleWakeUp(t *testing.T) {
	results := func(wakes bool) string {
		var in strings.Builder
		in.WriteString("cpu: Test CPU\ngoos: linux\ngoarch: amd64\n")
		for i, strategy := range []string{"ring-adaptive", "chan-drop-oldest"} {
			sc := bench.Scenario{Strategy: strategy, Readers: 16, Batch: 1, Payload: 64, Consumers: bench.AllFast, Rate: bench.CostRate(16)}
			m := map[string]float64{bench.UnitCPUPerDelivery: 100, bench.UnitP99: 600e3, bench.UnitLoss: 0}
			if wakes {
				m[bench.UnitIdleWake50] = 60e3 + 80e3*float64(i)
				m[bench.UnitIdleWake90] = 150e3 + 2.7e6*float64(i)
			}
			synthetic(&in, "Cost/"+sc.CostName(), m)
		}
		return in.String()
	}
	doc, _ := writeReport(t, results(true))
	requireAll(t, doc,
		"## Cost at a fixed rate",
		// synthetic spreads each figure over ±2%
		"Its median went from 58.8µs to 143µs over this run's cost runs, its 90th percentile from 147µs to 2.91ms.",
		"idle wake-up, whose 90th percentile went from 147µs to 2.91ms in this run's cost runs",
	)
	if doc, _ := writeReport(t, results(false)); strings.Contains(doc, "idle wake-up (`") {
		t.Error("the report describes an idle wake-up the results do not carry")
	}
	if t.Failed() {
		t.Logf("report:\n%s", doc)
	}
}
