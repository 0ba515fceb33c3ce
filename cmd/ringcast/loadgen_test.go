package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringcast/ringcast/internal/lgtest"
	"github.com/ringcast/ringcast/internal/ssetest"
	"github.com/ringcast/ringcast/loadgen"
)

func TestLoadgenCommand(t *testing.T) {
	srv, err := ssetest.Start(ssetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	jsonPath, htmlPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html")
	t.Setenv("RINGCAST_LOADGEN_SUBSCRIBERS", "5") // the environment twin of --subscribers
	var stdout, stderr bytes.Buffer
	err = runLoadgen([]string{
		"--url", srv.URL, "--rate", "200", "--duration", "500ms", "--interval", "100ms",
		"--json", jsonPath, "--html", htmlPath, "--fail-on-loss",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "delivered") || !strings.Contains(stderr.String(), "measure") {
		t.Fatalf("no table or no progress:\n%s\n%s", stdout.String(), stderr.String())
	}
	res := readResult(t, jsonPath)
	if res.Subscribers != 5 || res.Expected != 5*100 || res.Delivered != res.Expected {
		t.Fatalf("subscribers %d expected %d delivered %d", res.Subscribers, res.Expected, res.Delivered)
	}
	if page, err := os.ReadFile(htmlPath); err != nil || !bytes.Contains(page, []byte("<svg")) {
		t.Fatalf("html report: %v", err)
	}
}

func TestLoadgenHelpAndBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := runLoadgen([]string{"--help"}, &out, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	if !strings.Contains(out.String(), "RINGCAST_LOADGEN_SUBSCRIBERS") || !strings.Contains(out.String(), "--scenario") {
		t.Fatalf("help lacks flags or env twins:\n%s", out.String())
	}
	if err := runLoadgen([]string{"--scenario", "nope", "--quiet"}, &out, &out); err == nil || !strings.Contains(err.Error(), "scenario") {
		t.Fatalf("bad scenario: %v", err)
	}
	if err := runLoadgen([]string{"--scenario", "churn", "--churn-fraction", "0", "--quiet"}, &out, &out); err == nil || !strings.Contains(err.Error(), "--churn-fraction") {
		t.Fatalf("churn with no churning subscribers: %v", err)
	}
	if err := runLoadgen([]string{"--server-pid", "12,x", "--quiet"}, &out, &out); err == nil || !strings.Contains(err.Error(), `"x" is not a process id`) {
		t.Fatalf("a server pid that is not a number: %v", err)
	}
	// --slow-rcvbuf reaches the configuration, from its environment twin too.
	if !strings.Contains(out.String(), "RINGCAST_LOADGEN_SLOW_RCVBUF") {
		t.Fatalf("help lacks --slow-rcvbuf:\n%s", out.String())
	}
	t.Setenv("RINGCAST_LOADGEN_SLOW_RCVBUF", "-1")
	if err := runLoadgen([]string{"--scenario", "slow", "--quiet"}, &out, &out); err == nil || !strings.Contains(err.Error(), "receive buffer") {
		t.Fatalf("negative slow receive buffer: %v", err)
	}
}

// --profile: the load generator returns the server's profiles raw, and the
// command prints their top functions.
func TestLoadgenProfileTables(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{Admin: true})
	var stdout, stderr bytes.Buffer
	err := runLoadgen([]string{
		"--url", srv.URL, "--subscribers", "3", "--rate", "200", "--duration", "1500ms", "--quiet",
		"--profile", "--admin-url", srv.AdminURL, "--profile-seconds", "1s", "--profile-top", "3",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"server cpu profile (", "server heap profile (inuse_space, total ", "by flat", "by cum"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}

// readResult reads the --json result of a loadgen run.
func readResult(t *testing.T, path string) loadgen.Result {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var res loadgen.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	return res
}
