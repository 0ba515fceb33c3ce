// Command ringcast is the one binary of the project: the SSE server, the load
// generator and the benchmark report.
//
//	ringcast serve    [flags]   run the SSE server (what `make run` starts)
//	ringcast loadgen  [flags]   drive any SSE server and measure latency and loss
//	ringcast bench    ...       run the strategy suite, compare result sets, profile
//	ringcast e2e      [flags]   end-to-end: serve's engines under loadgen, written to docs/e2e.md
//
// Every flag has an environment twin: --max-event-bytes is RINGCAST_MAX_EVENT_BYTES.
package main

import (
	"io"
	"os"

	"github.com/ringcast/ringcast/internal/cli"
)

func commands() []cli.Command {
	return []cli.Command{
		{Name: "serve", Summary: "run the Server-Sent Events server", Run: runServe},
		{Name: "loadgen", Summary: "drive an SSE server over real sockets; report latency and loss", Run: runLoadgen},
		{Name: "bench", Summary: "run the fan-out strategy suite, compare two result sets, profile a scenario", Run: runBench},
		{Name: "e2e", Summary: "run serve (ring and chan engines) against loadgen load points; write docs/e2e.md", Run: runE2E},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Main("ringcast", "ringcast: one writer, many readers — a broadcast engine with an SSE server on top.", commands(), args, stdout, stderr)
}
