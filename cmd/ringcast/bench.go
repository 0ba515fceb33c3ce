package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ringcast/ringcast/bench"
	"github.com/ringcast/ringcast/internal/benchreport"
	"github.com/ringcast/ringcast/internal/benchsuite"
	"github.com/ringcast/ringcast/internal/cli"
)

// runBench dispatches `ringcast bench SUBCOMMAND`.
func runBench(args []string, stdout, stderr io.Writer) error {
	subs := []struct {
		name, summary string
		run           func([]string, io.Writer, io.Writer) error
	}{
		{"run", "run the strategy suite; write bench/results/, profiles and docs/benchmarks.md (make bench)", benchRun},
		{"report", "compare two result files with significance tests, as benchstat does", benchReport},
		{"profile", "profile one scenario (CPU and heap) and print its top functions (make profile)", benchProfile},
		{"doc", "rewrite docs/benchmarks.md and its charts from an existing results file", benchDoc},
	}
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: ringcast bench <subcommand> [flags]\n\nThe fan-out strategy benchmark suite (package bench).\n\nSubcommands:")
		for _, s := range subs {
			fmt.Fprintf(w, "  %-8s %s\n", s.name, s.summary)
		}
		fmt.Fprintln(w, "\nRun 'ringcast bench <subcommand> --help' for its flags.")
	}
	if len(args) == 0 {
		usage(stderr)
		return errors.New("missing subcommand")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// suiteFlags are the paths and knobs run and doc share.
type suiteFlags struct {
	o          benchsuite.Options
	profile    time.Duration
	views      bool
	logVerbose bool
}

func (sf *suiteFlags) register(fs *flag.FlagSet, withRun bool) {
	fs.StringVar(&sf.o.Results, "results", "bench/results/latest.txt", "raw go test -bench output (benchfmt), relative to the repository root")
	fs.StringVar(&sf.o.Doc, "doc", "docs/benchmarks.md", "the report to write")
	fs.StringVar(&sf.o.ImgDir, "img", "docs/img", "directory for the report's SVG charts")
	fs.StringVar(&sf.o.ProfileDir, "profile-dir", "bench/results/profiles", "directory for the headline scenarios' profiles")
	if !withRun {
		return
	}
	count := 5
	if v, err := strconv.Atoi(os.Getenv("BENCH_COUNT")); err == nil && v > 0 {
		count = v // make bench's BENCH_COUNT
	}
	fs.IntVar(&sf.o.Count, "count", count, "runs of each benchmark, as passes over the whole matrix (interleaved, unlike go test -count);\nBENCH_COUNT also sets it, as make bench does")
	fs.StringVar(&sf.o.Benchtime, "benchtime", "200ms", "go test -benchtime of each BenchmarkFanout run (BenchmarkSustained runs one search per run)")
	fs.StringVar(&sf.o.Matrix, "matrix", bench.MatrixDefault, "scenario matrix: default (about 11 minutes at count 5 on 2 cores, with the views), full (every combination: hours) or quick")
	fs.StringVar(&sf.o.Filter, "filter", "", "regular expression: run only the scenarios whose name matches\n(e.g. 'strategy=(ring-adaptive|chan-drop-oldest)/readers=16/')")
	fs.DurationVar(&sf.profile, "profile-time", 2*time.Second, "how long to profile each headline scenario after the run; 0 skips profiling")
	fs.BoolVar(&sf.views, "views", true, "also run the equal-memory and cost views (BenchmarkEqualMemory, BenchmarkCost: about\n10 s a pass); they are fixed scenarios, so a run with --filter skips them")
}

func (sf *suiteFlags) logger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func benchRun(args []string, stdout, stderr io.Writer) error {
	var sf suiteFlags
	fs := cli.NewFlagSet("bench run", `Run the fan-out strategy suite: BenchmarkFanout (every scenario of the matrix),
BenchmarkSustained (the highest rate each strategy keeps up with) and the ring's two views,
BenchmarkEqualMemory and BenchmarkCost (CPU per delivery and p99 at a fixed rate), BENCH_COUNT times each,
printing a line per finished benchmark. Keeps the raw output in --results, profiles the
headline scenarios into --profile-dir, and writes --doc with its charts in --img.
The report records the load average before each part of the run; read medians and ratios, not single runs.`, stderr)
	sf.register(fs, true)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	sf.o.ProfileTime, sf.o.Go, sf.o.Log, sf.o.Progress = sf.profile, "go", sf.logger(stderr), stderr
	sf.o.Views = sf.views && sf.o.Filter == ""
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root, err := benchsuite.ModuleRoot(ctx, "go")
	if err != nil {
		return err
	}
	if err := benchsuite.Run(ctx, root, sf.o); err != nil {
		return err
	}
	return sf.writeDoc(ctx, stdout, stderr, "ringcast bench run (make bench)")
}

// writeDoc has ringcast-report write the report from the results and
// profiles on disk (this binary links no chart code).
func (sf *suiteFlags) writeDoc(ctx context.Context, stdout, stderr io.Writer, command string) error {
	return runReportTool(ctx, stdout, stderr, "bench", "--results", sf.o.Results, "--doc", sf.o.Doc, "--img", sf.o.ImgDir,
		"--profile-dir", sf.o.ProfileDir, "--count", strconv.Itoa(sf.o.Count), "--benchtime", sf.o.Benchtime, "--command", command)
}

func benchDoc(args []string, stdout, stderr io.Writer) error {
	var sf suiteFlags
	fs := cli.NewFlagSet("bench doc", `Rewrite the report (--doc) and its charts from an existing results file, without
running anything; the profiles already in --profile-dir are linked and summarised.`, stderr)
	sf.register(fs, false)
	count := fs.Int("count", 0, "the -count the results were measured with, for the report's header (0: unknown)")
	benchtime := fs.String("benchtime", "", "the -benchtime they were measured with, for the header")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	sf.o.Count, sf.o.Benchtime = *count, *benchtime
	return sf.writeDoc(context.Background(), stdout, stderr, "ringcast bench doc")
}

func benchReport(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("bench report", `Usage: ringcast bench report [flags] OLD NEW

Compare two sets of benchmark results (go test -bench output; each argument may be a
comma-separated list of files, merged), benchstat-style: for each unit, each benchmark's
median and confidence interval on both sides, the change, and its p-value from a
Mann-Whitney U test — "~" where the difference is not significant (alpha 0.05).`, stderr)
	units := fs.String("units", "", "comma-separated units to show (e.g. 'deliv/s,p99-ns,ns/op'); default all shared")
	filter := fs.String("filter", "", "regular expression: show only the benchmarks whose name matches")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("want two result sets: OLD NEW")
	}
	var opt benchreport.CompareOptions
	if *units != "" {
		for _, u := range strings.Split(*units, ",") {
			opt.Units = append(opt.Units, benchreport.Tidy(strings.TrimSpace(u)))
		}
	}
	if *filter != "" {
		re, err := regexp.Compile(*filter)
		if err != nil {
			return fmt.Errorf("--filter: %v", err)
		}
		opt.Filter = re
	}
	oldSet, err := benchreport.Load(strings.Split(fs.Arg(0), ",")...)
	if err != nil {
		return err
	}
	newSet, err := benchreport.Load(strings.Split(fs.Arg(1), ",")...)
	if err != nil {
		return err
	}
	return benchreport.WriteComparison(stdout, oldSet, newSet, opt)
}

func benchProfile(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("bench profile", `Run one scenario repeatedly under the CPU profiler and the heap profiler, write
DIR/NAME.cpu.pprof and DIR/NAME.heap.pprof, and print the top functions by flat and by
cumulative share (computed with github.com/google/pprof/profile).

A scenario is an alias:
`+bench.AliasHelp()+`or a scenario name, keys missing taking their defaults:
  strategy=chan-block/readers=64/batch=64/payload=1024/consumers=slow10/rate=10k
Strategies: `+bench.StrategyNames(), stderr)
	scenario := fs.String("scenario", "fanout-16", "the scenario to profile (alias or name)")
	strategy := fs.String("strategy", "", "run the scenario with this strategy instead of its own")
	duration := fs.Duration("duration", 5*time.Second, "how long to profile")
	dir := fs.String("dir", "bench/results/profiles", "where to write the profiles")
	top := fs.Int("top", 15, "functions to print in each list")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	sc, err := bench.ParseScenario(*scenario)
	if err != nil {
		return err
	}
	base := *scenario
	if *strategy != "" {
		sc.Strategy = *strategy
		if err := sc.Validate(); err != nil {
			return err
		}
		base = sc.Name()
	}
	fmt.Fprintf(stdout, "profiling %s for %v\n", sc, *duration)
	res, err := bench.Profile(sc, *duration, *dir, bench.ProfileFileBase(base), nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d runs, %d events in %v\nwrote %s and %s (go tool pprof -http=: FILE)\n\n", res.Runs, res.Events,
		res.Elapsed.Round(time.Millisecond), res.CPUFile, res.HeapFile)
	if err := res.CPU.Write(stdout, *top); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	return res.Heap.Write(stdout, *top)
}
