package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/ringcast/ringcast/internal/benchdoc"
	"github.com/ringcast/ringcast/internal/benchsuite"
	"github.com/ringcast/ringcast/internal/cli"
)

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("report-bench", `Write the strategy report (--doc) and its charts (--img) from a results file, without
running anything; the headline profiles in --profile-dir are linked and summarised.
Relative paths are relative to the repository root. ringcast bench run and bench doc run this.`, stderr)
	var o benchsuite.Options
	fs.StringVar(&o.Results, "results", "bench/results/latest.txt", "raw go test -bench output (benchfmt)")
	fs.StringVar(&o.Doc, "doc", "docs/benchmarks.md", "the report to write")
	fs.StringVar(&o.ImgDir, "img", "docs/img", "directory for the report's SVG charts")
	fs.StringVar(&o.ProfileDir, "profile-dir", "bench/results/profiles", "directory of the headline scenarios' profiles")
	fs.IntVar(&o.Count, "count", 0, "the -count the results were measured with, for the header when the results do not say (0: unknown)")
	fs.StringVar(&o.Benchtime, "benchtime", "", "the -benchtime they were measured with, for the header when the results do not say")
	command := fs.String("command", "ringcast bench doc", "what produced the results, for the header when the results do not say")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	root, err := benchsuite.ModuleRoot(context.Background(), "go")
	if err != nil {
		return err
	}
	return benchdoc.WriteSuiteDoc(root, o, *command)
}
