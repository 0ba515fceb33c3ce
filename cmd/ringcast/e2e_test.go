package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/ringcast/ringcast/internal/e2e"
)

func TestE2EHelpAndBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := runE2E([]string{"--help"}, &out, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"--budget", "RINGCAST_E2E_IDLE_CONNECTIONS", "docs/e2e.md", "ring,chan,ring-nats,ring-nats-2nodes", "ring-nats-<n>nodes"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("help lacks %q:\n%s", want, out.String())
		}
	}
	if err := runE2E([]string{"--subscribers", "100,x"}, &out, &out); err == nil || !strings.Contains(err.Error(), "--subscribers") {
		t.Fatalf("bad --subscribers: %v", err)
	}
	// A malformed cluster setup is refused before any server starts.
	if err := runE2E([]string{"--engines", "ring,ring-nats-two", "--out", t.TempDir() + "/e2e.md"}, &out, &out); !errors.Is(err, e2e.ErrEngine) {
		t.Fatalf("bad --engines: %v", err)
	}
}
