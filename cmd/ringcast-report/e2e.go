package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ringcast/ringcast/internal/cli"
	"github.com/ringcast/ringcast/internal/e2e"
	"github.com/ringcast/ringcast/internal/e2echarts"
)

func runE2E(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("report-e2e", `Draw the end-to-end report's SVG charts from the report's JSON, which ringcast e2e
writes beside them (docs/e2e/report.json); ringcast e2e runs this.`, stderr)
	in := fs.String("in", "", "the report as JSON (ringcast e2e writes <charts-dir>/report.json)")
	dir := fs.String("charts-dir", "docs/e2e", "directory of the SVG charts")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("--in: the report's JSON is required")
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := e2e.ReadJSON(f)
	if err != nil {
		return err
	}
	if err := e2echarts.Write(rep, *dir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d charts in %s\n", len(e2e.ChartFiles), *dir)
	return nil
}
