// Package benchsuite runs the strategy benchmark suite — the measuring half
// of `make bench`: it builds bench's test binary, runs BenchmarkFanout and
// BenchmarkSustained, and with Views BenchmarkEqualMemory and BenchmarkCost,
// Count times over (interleaved passes) with progress on
// the terminal, keeps the raw benchfmt output and profiles the headline
// scenarios. The report (docs/benchmarks.md and its charts) is written
// from those files by package benchdoc, in the report tool, so that what
// measures links no chart code.
package benchsuite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ringcast/ringcast/bench"
)

// Options for Run. Relative paths are relative to the module root.
type Options struct {
	Count     int    // -count
	Benchtime string // -benchtime of BenchmarkFanout (BenchmarkSustained runs 1x: one search per run)
	Matrix    string // bench.MatrixDefault, MatrixFull or MatrixQuick
	Filter    string // regular expression on scenario names; empty: all
	// Views also runs BenchmarkEqualMemory and BenchmarkCost in each pass:
	// fixed scenarios (bench.EqualMemoryScenarios, bench.CostScenarios),
	// which Filter does not select.
	Views      bool
	Results    string // raw results file
	Doc        string // the report
	ImgDir     string // its charts
	ProfileDir string
	// ProfileTime is how long each headline scenario is profiled; 0 skips
	// profiling.
	ProfileTime time.Duration
	Go          string // the go command
	Log         *slog.Logger
	Progress    io.Writer // one line per finished benchmark
}

// Headline scenarios: profiled by Run and linked from the benchreport.
var Headline = []string{"fanout-16", "chan-fanout-16", "fanout-256", "chan-fanout-256", "stalled-16", "block-stalled-16"}

// ModuleRoot finds the directory of the main module's go.mod.
func ModuleRoot(ctx context.Context, goCmd string) (string, error) {
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("suite: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("suite: not inside the ringcast module (go env GOMOD is empty); run from the repository")
	}
	return filepath.Dir(mod), nil
}

// Run runs the suite from the module root root.
func Run(ctx context.Context, root string, o Options) error {
	if o.Count < 1 {
		return fmt.Errorf("suite: count must be at least 1, got %d", o.Count)
	}
	fanout, err := matrix(o, false)
	if err != nil {
		return err
	}
	sustained, err := matrix(o, true)
	if err != nil {
		return err
	}
	if len(fanout)+len(sustained) == 0 {
		return fmt.Errorf("suite: filter %q matches no scenario", o.Filter)
	}
	tmp, err := os.MkdirTemp("", "ringcast-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bench.test")
	o.Log.Info("building the benchmark binary", "package", "./bench")
	build := exec.CommandContext(ctx, o.Go, "test", "-c", "-o", bin, "./bench")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("suite: build: %w", err)
	}

	resultsPath := Resolve(root, o.Results)
	if err := os.MkdirAll(filepath.Dir(resultsPath), 0o755); err != nil {
		return err
	}
	partial := resultsPath + ".partial"
	out, err := os.Create(partial)
	if err != nil {
		return err
	}
	defer out.Close()
	// Provenance as benchfmt file configuration, so that the report written
	// later from this file alone (ringcast bench doc) can say what produced it.
	for _, kv := range [][2]string{
		{"ringcast-command", "ringcast bench run (make bench)"},
		{"ringcast-commit", GitCommit(root)},
		{"ringcast-date", time.Now().UTC().Format("2006-01-02 15:04 UTC")},
		{"ringcast-count", fmt.Sprint(o.Count)},
		{"ringcast-benchtime", o.Benchtime},
		{"ringcast-go", runtime.Version()},
	} {
		if kv[1] != "" {
			fmt.Fprintf(out, "%s: %s\n", kv[0], kv[1])
		}
	}
	var equalMemory, cost int
	if o.Views {
		equalMemory, cost = len(bench.EqualMemoryScenarios()), len(bench.CostScenarios())
	}
	prog := &progress{w: o.Progress, total: o.Count * (len(fanout) + len(sustained) + equalMemory + cost), start: time.Now()}
	// A scenario list left in the caller's environment would replace the
	// matrix: the suite always runs one.
	env := append(os.Environ(), bench.MatrixEnv+"="+o.Matrix, bench.FilterEnv+"="+o.Filter, bench.ScenariosEnv+"=")
	o.Log.Info("running the suite", "scenarios", len(fanout), "sustained searches", len(sustained),
		"equal-memory searches", equalMemory, "cost runs", cost, "count", o.Count,
		"benchtime", o.Benchtime, "matrix", o.Matrix, "results", o.Results)
	// The runs are interleaved: Count passes over the whole matrix, rather
	// than go test -count's Count runs of each benchmark back to back, so
	// that a burst of load from a neighbour on a shared machine spreads over
	// many scenarios instead of spoiling every sample of one.
	type part struct {
		bench, benchtime string
		n                int
	}
	var parts []part
	for range o.Count {
		parts = append(parts, part{"^BenchmarkFanout$", o.Benchtime, len(fanout)}, part{"^BenchmarkSustained$", "1x", len(sustained)},
			part{"^BenchmarkEqualMemory$", "1x", equalMemory}, part{"^BenchmarkCost$", "1x", cost})
	}
	for i, part := range parts {
		if part.n == 0 {
			continue
		}
		// The load before each part, so that the report can say whether
		// anything else shared the machine (LoadKeyPrefix).
		if load := loadAverage(); load != "" {
			fmt.Fprintf(out, "%s%d: %s\n", LoadKeyPrefix, i+1, load)
		}
		cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", part.bench, "-test.count", "1",
			"-test.benchtime", part.benchtime, "-test.timeout", "0")
		cmd.Dir, cmd.Env, cmd.Stderr = filepath.Join(root, "bench"), env, os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(out, line)
			prog.line(line)
		}
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("suite: %s failed (partial results in %s): %w", part.bench, partial, err)
		}
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Rename(partial, resultsPath); err != nil {
		return err
	}
	o.Log.Info("results written", "file", o.Results, "elapsed", time.Since(prog.start).Round(time.Second))

	if o.ProfileTime > 0 {
		for _, name := range Headline {
			sc, err := bench.ParseScenario(name)
			if err != nil {
				return err
			}
			o.Log.Info("profiling", "scenario", name, "for", o.ProfileTime)
			if _, err := bench.Profile(sc, o.ProfileTime, Resolve(root, o.ProfileDir), bench.ProfileFileBase(name), nil); err != nil {
				return fmt.Errorf("suite: profile %s: %w", name, err)
			}
		}
	}
	return nil
}

// LoadKeyPrefix starts the results file's configuration keys that carry the
// machine's one-minute load average before each part of the run.
const LoadKeyPrefix = "ringcast-load-"

// loadAverage is the one-minute load average, "" where the system does not
// say (only Linux's /proc is read).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// Resolve resolves p against root unless it is absolute.
func Resolve(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// GitCommit is the short hash of root's checked-out commit, or empty.
func GitCommit(root string) string {
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func matrix(o Options, sustained bool) ([]bench.Scenario, error) {
	if sustained {
		m, err := bench.SustainedMatrix(o.Matrix)
		if err != nil {
			return nil, err
		}
		return bench.FilterScenarios(m, o.Filter, bench.Scenario.SustainedName)
	}
	m, err := bench.Matrix(o.Matrix)
	if err != nil {
		return nil, err
	}
	return bench.FilterScenarios(m, o.Filter, bench.Scenario.Name)
}

// progress prints a line per finished benchmark with an estimate of the
// time left.
type progress struct {
	w           io.Writer
	done, total int
	start       time.Time
}

func (p *progress) line(l string) {
	if p.w == nil {
		return
	}
	if strings.HasPrefix(l, "--- FAIL") || strings.HasPrefix(l, "FAIL") || strings.Contains(l, "panic:") {
		fmt.Fprintln(p.w, l)
		return
	}
	if !strings.HasPrefix(l, "Benchmark") {
		return
	}
	f := strings.Fields(l)
	if len(f) < 4 {
		fmt.Fprintln(p.w, l) // a benchmark's own log output
		return
	}
	p.done++
	elapsed := time.Since(p.start)
	eta := "?"
	if p.done > 0 {
		eta = (time.Duration(float64(elapsed) / float64(p.done) * float64(p.total-p.done))).Round(time.Second).String()
	}
	name := f[0]
	var keep []string
	for i := 2; i+1 < len(f); i += 2 {
		switch f[i+1] {
		case bench.UnitDeliveryRate, bench.UnitLoss, bench.UnitP99, bench.UnitSustainedDeliveries, bench.UnitCPUPerDelivery:
			keep = append(keep, f[i+1]+"="+f[i])
		}
	}
	fmt.Fprintf(p.w, "[%d/%d %s, ~%s left] %s %s\n", p.done, p.total, elapsed.Round(time.Second), eta,
		strings.TrimPrefix(name, "Benchmark"), strings.Join(keep, " "))
}
