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
	for _, want := range []string{
		"| ring-adaptive delivers ≥ 10× chan-drop-oldest's events/s at 16 readers | sustained, batch 1: 12× (50M vs 4M) | **met** |",
		"| ring-adaptive delivers ≥ 30× chan-drop-oldest's events/s at 256 readers | sustained, batch 1: 20× (100M vs 5M) | **not met** |",
		"healthy readers' p99 100µs → 104µs with one stalled (+4.0%",
		"it hurts the others with chan-block (publisher held back, p99 900ms late), chan-unbounded (memory grows to 61.04MiB (paced))",
		"the others are unaffected with ring-adaptive.",
		"![sustained deliveries/s vs readers, batch 1](img/bench-sustained.svg)",
		"Test CPU, GOMAXPROCS=2",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
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
	set, err := benchreport.Parse(strings.NewReader(in.String()), "partial.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	docPath := filepath.Join(dir, "benchmarks.md")
	if err := WriteDoc(docPath, set, DocOptions{Command: "test", ImgDir: filepath.Join(dir, "img"), ImgLink: "img"}); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, chart := range []string{ChartSustained, ChartFlatOut} {
		if _, err := os.Stat(filepath.Join(dir, "img", chart)); err != nil {
			t.Errorf("chart %s: %v", chart, err)
		}
		if !strings.Contains(string(doc), "(img/"+chart+")") {
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
