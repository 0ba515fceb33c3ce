package proftop

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// synthetic builds a profile with known stacks: main -> a -> b (b leaf, with
// c inlined into b), main -> a (a leaf), and a recursion main -> r -> r.
func synthetic() *profile.Profile {
	fn := map[string]*profile.Function{}
	var funcs []*profile.Function
	for i, n := range []string{"main", "a", "b", "c", "r"} {
		f := &profile.Function{ID: uint64(i + 1), Name: n}
		fn[n] = f
		funcs = append(funcs, f)
	}
	loc := func(id uint64, names ...string) *profile.Location {
		l := &profile.Location{ID: id}
		for _, n := range names {
			l.Line = append(l.Line, profile.Line{Function: fn[n]})
		}
		return l
	}
	lMain, lA, lBC, lR := loc(1, "main"), loc(2, "a"), loc(3, "c", "b"), loc(4, "r")
	return &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{lBC, lA, lMain}, Value: []int64{1, 60}},
			{Location: []*profile.Location{lA, lMain}, Value: []int64{1, 30}},
			{Location: []*profile.Location{lR, lR, lMain}, Value: []int64{1, 10}},
		},
		Location: []*profile.Location{lMain, lA, lBC, lR},
		Function: funcs,
	}
}

func TestComputeFlatAndCum(t *testing.T) {
	top, err := Compute(synthetic(), "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if top.Total != 100 {
		t.Fatalf("total %d, want 100", top.Total)
	}
	want := map[string][2]int64{ // flat, cum
		"main": {0, 100}, "a": {30, 90}, "b": {0, 60}, "c": {60, 60}, "r": {10, 10},
	}
	for _, r := range top.ByFlat {
		w, ok := want[r.Function]
		if !ok {
			t.Errorf("unexpected function %q", r.Function)
			continue
		}
		if r.Flat != w[0] || r.Cum != w[1] {
			t.Errorf("%s: flat %d cum %d, want %d %d", r.Function, r.Flat, r.Cum, w[0], w[1])
		}
		if r.CumShare != float64(w[1])/100 {
			t.Errorf("%s: cum share %v", r.Function, r.CumShare)
		}
	}
	if top.ByFlat[0].Function != "c" || top.ByCum[0].Function != "main" || top.ByCum[1].Function != "a" {
		t.Errorf("order: flat %v, cum %v", top.ByFlat, top.ByCum)
	}
	var buf bytes.Buffer
	if err := top.Write(&buf, 2); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{"cpu: total 0.1µs", "top 2 by flat", "60.0%", "c\n", "top 2 by cumulative", "100.0%"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestComputeUnknownSampleType(t *testing.T) {
	_, err := Compute(synthetic(), "alloc_space")
	if err == nil || !strings.Contains(err.Error(), "has samples, cpu") {
		t.Fatalf("error %v should list the sample types the profile has", err)
	}
}
