// Command ringcast-report draws ringcast's reports: the documents with
// charts that `make bench` and `make bench-e2e` write, and loadgen's HTML
// page. It is apart from the ringcast binary so that what operators deploy
// for `serve` links no chart code (gonum/plot and its fonts were half of
// that binary). ringcast runs it where a command writes charts (bench run,
// bench doc, e2e, loadgen --html): the ringcast-report beside its own
// executable, else `go run ./cmd/ringcast-report` in the ringcast module,
// else one on PATH.
//
//	ringcast-report bench   [flags]           docs/benchmarks.md and its charts, from bench/results
//	ringcast-report e2e     --in FILE [flags] the e2e report's charts, from its JSON
//	ringcast-report loadgen --in FILE --html OUT   loadgen's HTML page, from its JSON result
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"bench", "write docs/benchmarks.md and its charts from a suite's results and profiles", runBench},
		{"e2e", "draw the end-to-end report's charts from its JSON", runE2E},
		{"loadgen", "write a load generator result (JSON) as a self-contained HTML page with charts", runLoadgen},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "ringcast-report: the report writer of ringcast (charts and documents).")
	fmt.Fprintln(w, "\nUsage: ringcast-report <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'ringcast-report <command> --help' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		default:
			fmt.Fprintf(stderr, "ringcast-report %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "ringcast-report: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}
