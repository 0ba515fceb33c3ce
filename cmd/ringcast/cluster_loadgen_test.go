package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ringcast/ringcast/internal/natsembed"
	"github.com/ringcast/ringcast/transport"
)

// TestLoadgenAgainstCluster: loadgen with one --url per node of a cluster
// spreads its subscribers and publishes over them, and every subscriber gets
// every event, whichever node it was published to.
func TestLoadgenAgainstCluster(t *testing.T) {
	ns, err := natsembed.Start(natsembed.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	var urls []string
	for range 2 {
		srv, err := transport.New(transport.Config{NATSURL: ns.ClientURL(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		}()
		urls = append(urls, "http://"+ln.Addr().String())
	}
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	err = runLoadgen([]string{
		"--url", urls[0], "--url", urls[1], "--subscribers", "6", "--topics", "2",
		"--rate", "200", "--duration", "500ms", "--json", jsonPath, "--fail-on-loss", "--quiet",
		"--metrics-url", "off",
		// Both nodes run in this process: read it once per node, summed.
		"--server-pid", strconv.Itoa(os.Getpid()), "--server-pid", strconv.Itoa(os.Getpid()),
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	res := readResult(t, jsonPath)
	if res.Subscribers != 6 || res.Expected == 0 || res.Delivered != res.Expected {
		t.Fatalf("subscribers %d expected %d delivered %d", res.Subscribers, res.Expected, res.Delivered)
	}
	if want := fmt.Sprintf("/proc/%d + /proc/%d", os.Getpid(), os.Getpid()); res.Server == nil || res.Server.Source != want {
		t.Fatalf("server figures %+v, want them read from %s", res.Server, want)
	}
	for _, u := range urls { // each node had its share of both
		resp, err := http.Get(u + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"ringcast_sse_connections_opened_total 3\n", "ringcast_events_published_total "} {
			if !bytes.Contains(m, []byte(want)) || bytes.Contains(m, []byte("ringcast_events_published_total 0\n")) {
				t.Fatalf("%s/metrics lacks %q or published nothing", u, want)
			}
		}
	}
}
