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
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the Server-Sent Events server", runServe},
		{"loadgen", "drive an SSE server over real sockets; report latency and loss", runLoadgen},
		{"bench", "run the fan-out strategy suite, compare two result sets, profile a scenario", runBench},
		{"e2e", "run serve (ring and chan engines) against loadgen load points; write docs/e2e.md", runE2E},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "ringcast: one writer, many readers — a broadcast engine with an SSE server on top.")
	fmt.Fprintln(w, "\nUsage: ringcast <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'ringcast <command> --help' for a command's flags.")
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
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		default:
			fmt.Fprintf(stderr, "ringcast %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "ringcast: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}
