package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ringcast/ringcast/internal/benchsuite"
)

// The charts and the documents that hold them are drawn by ringcast-report,
// a separate command, so that this binary — what operators deploy for
// serve — links no chart code. runReportTool runs it with args, finding it
//   - beside this executable (both installed together),
//   - else in the ringcast checkout the working directory is in, with
//     `go run ./cmd/ringcast-report` (make bench, make bench-e2e, go run),
//   - else on PATH.
func runReportTool(ctx context.Context, stdout, stderr io.Writer, args ...string) error {
	argv, dir, err := findReportTool(ctx)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], args...)...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, stdout, stderr
	if err := cmd.Run(); err != nil {
		return errors.New(strings.Join(append(argv, args...), " ") + ": " + err.Error())
	}
	return nil
}

const module = "github.com/ringcast/ringcast"

func findReportTool(ctx context.Context) (argv []string, dir string, err error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "ringcast-report")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return []string{p}, "", nil
		}
	}
	if root, err := benchsuite.ModuleRoot(ctx, "go"); err == nil && moduleIs(root, module) {
		return []string{"go", "run", "./cmd/ringcast-report"}, root, nil
	}
	if p, err := exec.LookPath("ringcast-report"); err == nil {
		return []string{p}, "", nil
	}
	return nil, "", errors.New("charts are drawn by ringcast-report, found neither beside this binary, nor in a ringcast checkout, nor on PATH (go install " + module + "/cmd/ringcast-report)")
}

// moduleIs reports whether root/go.mod declares module path.
func moduleIs(root, path string) bool {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(name), `"`) == path
		}
	}
	return false
}

// absPath makes p absolute, for a report tool run in another directory.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
