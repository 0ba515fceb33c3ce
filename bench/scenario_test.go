package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

func TestScenarioNameRoundTrips(t *testing.T) {
	for _, m := range []string{MatrixDefault, MatrixFull, MatrixQuick} {
		scs, err := Matrix(m)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, sc := range scs {
			name := sc.Name()
			if seen[name] {
				t.Errorf("%s matrix: %s twice", m, name)
			}
			seen[name] = true
			if err := sc.Validate(); err != nil {
				t.Errorf("%s matrix: %v", m, err)
			}
			for _, s := range []string{name, "BenchmarkFanout/" + name + "-2"} {
				got, err := ParseScenario(s)
				if err != nil || got != sc {
					t.Errorf("ParseScenario(%q) = %+v, %v; want %+v", s, got, err, sc)
				}
			}
		}
	}
}

func TestMatrixSizes(t *testing.T) {
	def, _ := Matrix(MatrixDefault)
	full, _ := Matrix(MatrixFull)
	if len(def) >= len(full) || len(def) < 50 {
		t.Errorf("default matrix has %d scenarios, full %d", len(def), len(full))
	}
	if _, err := Matrix("huge"); err == nil {
		t.Error("unknown matrix accepted")
	}
}

func TestParseScenarioAliasesAndErrors(t *testing.T) {
	sc, err := ParseScenario("fanout-256")
	if err != nil || sc.Readers != 256 || sc.Strategy != "ring-adaptive" || sc.Rate != 0 {
		t.Errorf("fanout-256 = %+v, %v", sc, err)
	}
	sc, err = ParseScenario("block-stalled-16")
	if err != nil || sc.Strategy != "chan-block" || sc.Consumers != OneStalled || sc.Rate != DefaultRate {
		t.Errorf("block-stalled-16 = %+v, %v", sc, err)
	}
	sc, err = ParseScenario("strategy=mutex-cond/readers=4/rate=20k")
	if err != nil || sc.Strategy != "mutex-cond" || sc.Readers != 4 || sc.Rate != 20000 || sc.Batch != 1 {
		t.Errorf("partial name = %+v, %v", sc, err)
	}
	for in, want := range map[string]string{
		"readers=x":               `readers: strconv.Atoi: parsing "x"`,
		"colour=blue":             `unknown key "colour"`,
		"fanout":                  `"fanout" is not key=value`,
		"rate=fast":               `want max or a positive events/s`,
		"strategy=carrier-pigeon": `unknown strategy "carrier-pigeon"`,
	} {
		if _, err := ParseScenario(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseScenario(%q) error %v, want %q", in, err, want)
		}
	}
}

// A scenario list in the environment replaces the matrix, in its order.
func TestMatrixFromEnvTakesAScenarioList(t *testing.T) {
	const probe = "strategy=ring-adaptive/readers=256/batch=1/payload=64/consumers=fast/rate=800k"
	t.Setenv(MatrixEnv, MatrixFull)
	t.Setenv(ScenariosEnv, probe+", fanout-16")
	m, err := MatrixFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[0].Name() != probe || m[1].Readers != 16 || m[1].Strategy != "ring-adaptive" {
		t.Errorf("MatrixFromEnv() = %v, want %s and fanout-16", m, probe)
	}
	t.Setenv(ScenariosEnv, probe+",readers=x")
	if _, err := MatrixFromEnv(); err == nil || !strings.Contains(err.Error(), ScenariosEnv) || !strings.Contains(err.Error(), "readers") {
		t.Errorf("a bad name in the list: error %v, want one naming $%s and the key", err, ScenariosEnv)
	}
}

func TestProfileWritesReadableProfiles(t *testing.T) {
	dir := t.TempDir()
	sc := Scenario{Strategy: "chan-drop-oldest", Readers: 2, Batch: 8, Payload: 64, Consumers: AllFast}
	res, err := Profile(sc, 100*time.Millisecond, dir, ProfileFileBase(sc.Name()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Runs < 1 || res.Events == 0 {
		t.Errorf("profiled %d runs of %d events", res.Runs, res.Events)
	}
	for _, path := range []string{res.CPUFile, res.HeapFile} {
		if filepath.Dir(path) != dir || strings.ContainsAny(filepath.Base(path), "/=") {
			t.Errorf("profile file %q not a plain name in %s", path, dir)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = profile.Parse(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	// Every run builds its consumers' histograms and channels, so the heap
	// profile cannot be empty.
	if res.Heap.Total == 0 || len(res.Heap.ByCum) == 0 {
		t.Errorf("heap profile empty: %+v", res.Heap)
	}
}
