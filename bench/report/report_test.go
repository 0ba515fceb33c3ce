package report

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ringcast/ringcast/bench"
)

// results renders benchfmt lines: one per value in vals, each a run of
// benchmark name with the given unit.
func results(name, unit string, vals ...float64) string {
	var b strings.Builder
	for _, v := range vals {
		fmt.Fprintf(&b, "Benchmark%s-2 \t 1000 \t 1000 ns/op \t %g %s\n", name, v, unit)
	}
	return b.String()
}

func TestLoadTidiesUnitsAndStripsProcs(t *testing.T) {
	in := "goos: linux\ncpu: Test CPU\nringcast-capacity: 1024\n" +
		results("Fanout/strategy=x/readers=1", "p99-ns", 1000, 2000) + results("Fanout/strategy=x/readers=1", "deliv/s", 5, 6)
	s, err := Parse(strings.NewReader(in), "in.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Rows(); len(got) != 1 || got[0] != "Fanout/strategy=x/readers=1" {
		t.Fatalf("rows %q", got)
	}
	if s.Procs != "2" || s.ConfigValue("cpu") != "Test CPU" || s.ConfigValue("ringcast-capacity") != "1024" {
		t.Errorf("procs %q, config %v", s.Procs, s.Config)
	}
	if got := s.Values("Fanout/strategy=x/readers=1", "p99-ns"); len(got) != 2 || math.Abs(got[0]-1e-6) > 1e-15 {
		t.Errorf("p99 values %v, want seconds", got)
	}
	if got := s.Values("Fanout/strategy=x/readers=1", "sec/op"); len(got) != 4 {
		t.Errorf("sec/op values %v", got)
	}
}

func TestSummarizeFallsBackToTheRangeWithFiveRuns(t *testing.T) {
	st, _ := Summarize([]float64{10, 11, 12, 13, 100})
	if st.Center != 12 || st.Lo != 10 || st.Hi != 100 {
		t.Errorf("summary %+v: want median 12, range 10..100", st.Summary)
	}
	if st.Spread() == "" || strings.Contains(st.Spread(), "∞") {
		t.Errorf("spread %q", st.Spread())
	}
	st, _ = Summarize([]float64{10, 11, 12, 13, 14, 15, 16, 17, 18, 19})
	if st.Confidence < Confidence || st.Lo <= 10 || st.Hi >= 19 {
		t.Errorf("ten runs: %+v, want a 95%% interval inside the range", st.Summary)
	}
}

func TestComparisonMarksSignificance(t *testing.T) {
	oldIn := results("Fanout/a", "deliv/s", 10, 11, 10, 11, 10) + results("Fanout/b", "deliv/s", 10, 11, 10, 11, 10)
	newIn := results("Fanout/a", "deliv/s", 20, 21, 20, 21, 20) + results("Fanout/b", "deliv/s", 11, 10, 10, 11, 10)
	o, _ := Parse(strings.NewReader(oldIn), "old.txt")
	n, _ := Parse(strings.NewReader(newIn), "new.txt")
	var buf bytes.Buffer
	if err := WriteComparison(&buf, o, n, CompareOptions{Units: []string{"deliv/s"}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lineA := regexp.MustCompile(`(?m)^Fanout/a .*$`).FindString(out)
	lineB := regexp.MustCompile(`(?m)^Fanout/b .*$`).FindString(out)
	if !strings.Contains(lineA, "+100.00%") || !strings.Contains(lineA, "p=0.008 n=5") {
		t.Errorf("a doubled: %q", lineA)
	}
	if !strings.Contains(lineB, "~") {
		t.Errorf("b unchanged: %q", lineB)
	}
	if !strings.Contains(out, "old.txt") || !strings.Contains(out, "geomean") {
		t.Errorf("table:\n%s", out)
	}
	if err := WriteComparison(&buf, o, n, CompareOptions{Filter: regexp.MustCompile("nothing")}); err == nil {
		t.Error("comparison with no shared benchmarks succeeded")
	}
}

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
	set, err := Parse(strings.NewReader(in.String()), "synthetic.txt")
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
	set, _ := Parse(strings.NewReader(results("Other/x", "ns/op", 1)), "x.txt")
	if err := WriteDoc(filepath.Join(t.TempDir(), "b.md"), set, DocOptions{}); err == nil {
		t.Error("report written without any Fanout or Sustained result")
	}
}
