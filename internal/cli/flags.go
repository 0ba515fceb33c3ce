// Package cli holds what every ringcast subcommand shares on its command line:
// flags with environment-variable twins and a --help that names both.
package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// EnvName is the environment variable that stands in for a flag: the prefix,
// then the flag name upper-cased with dashes as underscores
// (prefix "RINGCAST", flag "max-event-bytes" -> RINGCAST_MAX_EVENT_BYTES).
func EnvName(prefix, flagName string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// EnvPrefix is the prefix of a subcommand's environment twins. The server,
// the main job, has the short names (RINGCAST_ADDR); every other subcommand
// has its own namespace (RINGCAST_LOADGEN_RATE, RINGCAST_BENCH_COUNT), so that
// a shell configured for the server does not configure the load generator it
// runs against it.
func EnvPrefix(command string) string {
	first, _, _ := strings.Cut(command, " ")
	if first == "serve" {
		return "RINGCAST"
	}
	return "RINGCAST_" + strings.ToUpper(strings.ReplaceAll(first, "-", "_"))
}

// NewFlagSet returns a flag set for one subcommand whose usage text lists every
// flag with its environment twin. summary is printed above the flags.
func NewFlagSet(name, summary string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: ringcast %s [flags]\n\n%s\n\nFlags (each may also be set by the environment variable shown):\n", name, strings.TrimSpace(summary))
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  --%s", f.Name)
			if typ, _ := flag.UnquoteUsage(f); typ != "" {
				fmt.Fprintf(out, " %s", typ)
			}
			_, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(out, "   [$%s]\n      %s", EnvName(EnvPrefix(name), f.Name), strings.ReplaceAll(usage, "\n", "\n      "))
			if !isZeroDefault(f.DefValue) {
				fmt.Fprintf(out, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
	return fs
}

// Parse parses args, then fills every flag that was not given on the command
// line from its environment twin (RINGCAST_<NAME>). The command line wins over
// the environment, the environment over the default. A malformed environment
// value is an error that names the variable.
func Parse(fs *flag.FlagSet, args []string) error {
	return parseWithEnv(fs, args, os.LookupEnv)
}

func parseWithEnv(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var firstErr error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || firstErr != nil {
			return
		}
		env := EnvName(EnvPrefix(fs.Name()), f.Name)
		if v, ok := lookup(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				firstErr = fmt.Errorf("environment variable %s=%q: %v", env, v, err)
			}
		}
	})
	return firstErr
}

// isZeroDefault reports a default not worth printing: the zero value of the
// flag's type.
func isZeroDefault(v string) bool {
	switch v {
	case "", "false", "0", "0s", "[]":
		return true
	}
	return false
}
