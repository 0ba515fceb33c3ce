package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestEnvName(t *testing.T) {
	if got := EnvName("RINGCAST", "max-event-bytes"); got != "RINGCAST_MAX_EVENT_BYTES" {
		t.Fatalf("EnvName = %q", got)
	}
}

func TestEnvPrefix(t *testing.T) {
	for cmd, want := range map[string]string{"serve": "RINGCAST", "loadgen": "RINGCAST_LOADGEN", "bench run": "RINGCAST_BENCH", "e2e": "RINGCAST_E2E"} {
		if got := EnvPrefix(cmd); got != want {
			t.Errorf("EnvPrefix(%q) = %q, want %q", cmd, got, want)
		}
	}
}

// A variable of the server's does not configure another subcommand.
func TestParseOtherCommandIgnoresServerEnv(t *testing.T) {
	env := map[string]string{"RINGCAST_RATE": "5", "RINGCAST_LOADGEN_RATE": "7"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	fs := NewFlagSet("loadgen", "test", &bytes.Buffer{})
	rate := fs.Int("rate", 1, "events/s")
	if err := parseWithEnv(fs, nil, lookup); err != nil {
		t.Fatal(err)
	}
	if *rate != 7 {
		t.Fatalf("rate = %d, want 7 from RINGCAST_LOADGEN_RATE", *rate)
	}
}

func TestParsePrecedence(t *testing.T) {
	env := map[string]string{"RINGCAST_ADDR": ":9000", "RINGCAST_KEEPALIVE": "3s", "RINGCAST_CAPACITY": "64"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out bytes.Buffer
	fs := NewFlagSet("serve", "test", &out)
	addr := fs.String("addr", ":8080", "listen address")
	keep := fs.Duration("keepalive", 15*time.Second, "keep-alive")
	capacity := fs.Int("capacity", 1024, "ring capacity")
	if err := parseWithEnv(fs, []string{"--capacity", "128"}, lookup); err != nil {
		t.Fatal(err)
	}
	if *addr != ":9000" || *keep != 3*time.Second || *capacity != 128 {
		t.Fatalf("addr=%q keepalive=%v capacity=%d; want env for the first two, the command line for the third", *addr, *keep, *capacity)
	}
}

func TestParseBadEnvNamesVariable(t *testing.T) {
	lookup := func(k string) (string, bool) {
		if k == "RINGCAST_KEEPALIVE" {
			return "soon", true
		}
		return "", false
	}
	fs := NewFlagSet("serve", "test", &bytes.Buffer{})
	fs.Duration("keepalive", time.Second, "keep-alive")
	err := parseWithEnv(fs, nil, lookup)
	if err == nil || !strings.Contains(err.Error(), "RINGCAST_KEEPALIVE") {
		t.Fatalf("err = %v, want one naming RINGCAST_KEEPALIVE", err)
	}
}

func TestUsageListsEnvTwins(t *testing.T) {
	var out bytes.Buffer
	fs := NewFlagSet("serve", "Serve events.", &out)
	fs.String("admin-addr", "127.0.0.1:6060", "admin listener")
	fs.Duration("batch-window", 0, "coalescing window")
	fs.Usage()
	for _, want := range []string{"Usage: ringcast serve", "Serve events.", "--admin-addr", "$RINGCAST_ADMIN_ADDR", "(default 127.0.0.1:6060)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "(default 0s)") {
		t.Errorf("usage prints a zero duration default:\n%s", out.String())
	}
}
