// Package lgtest holds what the load generator's tests share: a bounded run
// with test-friendly defaults, and finding a class in a result.
package lgtest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ringcast/ringcast/internal/ssetest"
	"github.com/ringcast/ringcast/loadgen"
)

// Run runs cfg with every subscriber connecting at once, a 200 ms interval,
// a 3 s drain limit and 20 ms reconnects unless cfg says otherwise, bounded
// by 30 s. The text report is logged when the test failed or runs verbose.
func Run(t *testing.T, cfg loadgen.Config) *loadgen.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if cfg.ConnectRate == 0 {
		cfg.ConnectRate = -1
	}
	if cfg.Interval == 0 {
		cfg.Interval = 200 * time.Millisecond
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 3 * time.Second
	}
	if cfg.ReconnectDelay == 0 {
		cfg.ReconnectDelay = 20 * time.Millisecond
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() || testing.Verbose() {
		var b bytes.Buffer
		res.WriteText(&b)
		t.Log("\n" + b.String())
	}
	return res
}

// Class returns the result's class of that name, failing the test without one.
func Class(t *testing.T, res *loadgen.Result, name string) loadgen.ClassResult {
	t.Helper()
	for _, c := range res.Classes {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no class %q in %+v", name, res.Classes)
	return loadgen.ClassResult{}
}

// Serve starts the test SSE server (ssetest) on loopback, closed when the
// test ends.
func Serve(t testing.TB, opts ssetest.Options) *ssetest.Server {
	t.Helper()
	srv, err := ssetest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}
