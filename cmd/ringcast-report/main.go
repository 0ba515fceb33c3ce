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
	"io"
	"os"

	"github.com/ringcast/ringcast/internal/cli"
)

func commands() []cli.Command {
	return []cli.Command{
		{Name: "bench", Summary: "write docs/benchmarks.md and its charts from a suite's results and profiles", Run: runBench},
		{Name: "e2e", Summary: "draw the end-to-end report's charts from its JSON", Run: runE2E},
		{Name: "loadgen", Summary: "write a load generator result (JSON) as a self-contained HTML page with charts", Run: runLoadgen},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Main("ringcast-report", "ringcast-report: the report writer of ringcast (charts and the documents that hold them).", commands(), args, stdout, stderr)
}
