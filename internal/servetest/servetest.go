// Package servetest runs a server under test on loopback for the length of
// a test.
package servetest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// Server is what Loopback runs: transport.Server's lifecycle.
type Server interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// Loopback serves s on a fresh 127.0.0.1 port until the test ends, then
// shuts it down (within 5 s), failing the test if either goes wrong; it
// returns the address.
func Loopback(t testing.TB, s Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	On(t, s, ln)
	return ln.Addr().String()
}

// On serves s on ln and returns stop, which shuts it down (within 5 s),
// failing the test if either goes wrong; stop runs when the test ends unless
// called before, for a test that restarts a server on the same address.
func On(t testing.TB, s Server, ln net.Listener) (stop func()) {
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
