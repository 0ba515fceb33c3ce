package benchsuite

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ringcast/ringcast/bench"
)

func TestProgressReportsEachBenchmark(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, total: 4, start: time.Now()}
	p.line("goos: linux")
	p.line("BenchmarkFanout/strategy=ring-blocking/readers=16/batch=1/payload=64/consumers=fast/rate=max-2 \t 1000 \t 70 ns/op \t 4.5e+07 deliv/s \t 0.79 loss-frac \t 126463 p99-ns \t 0 allocs/op")
	p.line("--- FAIL: BenchmarkFanout/strategy=x")
	out := buf.String()
	for _, want := range []string{"[1/4 ", "Fanout/strategy=ring-blocking/readers=16", "deliv/s=4.5e+07", "loss-frac=0.79", "p99-ns=126463", "--- FAIL"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "goos") || strings.Contains(out, "allocs/op") {
		t.Errorf("progress repeats noise: %q", out)
	}
}

func TestMatrixHonoursFilter(t *testing.T) {
	all, err := matrix(Options{Matrix: bench.MatrixQuick}, false)
	if err != nil {
		t.Fatal(err)
	}
	some, err := matrix(Options{Matrix: bench.MatrixQuick, Filter: "strategy=chan-block/"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(some) == 0 || len(some) >= len(all) {
		t.Fatalf("filter kept %d of %d", len(some), len(all))
	}
	for _, sc := range some {
		if sc.Strategy != "chan-block" {
			t.Errorf("filter kept %s", sc)
		}
	}
	if _, err := matrix(Options{Matrix: bench.MatrixQuick, Filter: "("}, true); err == nil {
		t.Error("bad filter accepted")
	}
}
