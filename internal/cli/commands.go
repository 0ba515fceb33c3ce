package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Command is one subcommand of a binary.
type Command struct {
	Name, Summary string
	Run           func(args []string, stdout, stderr io.Writer) error
}

// Main runs the command args[0] names and returns the exit status: 0 when
// it succeeded or showed its help, 1 when it failed (the error printed as
// "prog name: error"), 2 for a missing or unknown command (with the usage,
// which starts with intro).
func Main(prog, intro string, cmds []Command, args []string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, intro)
		fmt.Fprintf(w, "\nUsage: %s <command> [flags]\n\nCommands:\n", prog)
		for _, c := range cmds {
			fmt.Fprintf(w, "  %-8s %s\n", c.Name, c.Summary)
		}
		fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", prog)
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range cmds {
		if c.Name != args[0] {
			continue
		}
		err := c.Run(args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		default:
			fmt.Fprintf(stderr, "%s %s: %v\n", prog, c.Name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", prog, args[0])
	usage(stderr)
	return 2
}
