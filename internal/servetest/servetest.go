// Package servetest runs a server under test on loopback for the length of
// a test.
package servetest

import (
	"context"
	"net"
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
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}
