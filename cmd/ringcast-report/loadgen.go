package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ringcast/ringcast/internal/cli"
	"github.com/ringcast/ringcast/internal/loadgenhtml"
	"github.com/ringcast/ringcast/loadgen"
)

func runLoadgen(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("report-loadgen", `Write a load generator result (ringcast loadgen --json) as a self-contained HTML
page: the summary tables and charts as inline SVG; ringcast loadgen --html runs this.`, stderr)
	in := fs.String("in", "", "the result as JSON (ringcast loadgen --json FILE)")
	out := fs.String("html", "", "the page to write")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return errors.New("--in and --html are required")
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var res loadgen.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %v", *in, err)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := loadgenhtml.Write(f, &res); err != nil {
		f.Close()
		return fmt.Errorf("%s: %v", *out, err)
	}
	return f.Close()
}
