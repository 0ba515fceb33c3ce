package benchreport

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
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
