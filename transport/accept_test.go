package transport

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// emfileListener fails every Accept with EMFILE, as a process out of
// descriptors does.
type emfileListener struct{ net.Listener }

func (emfileListener) Accept() (net.Conn, error) {
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: fmt.Errorf("accept4: %w", syscall.EMFILE)}
}

// Accept waits out EMFILE (A1), counting each retry, and returns as soon as
// the listener is closed, in the middle of a back-off (A2).
func TestAcceptRetriesUntilClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	retries := metrics.NewSet().NewCounter(mAcceptRetries)
	rl := newRetryListener(emfileListener{ln}, slog.New(slog.NewTextHandler(io.Discard, nil)), retries)
	done := make(chan error, 1)
	go func() {
		_, err := rl.Accept()
		done <- err
	}()
	waitFor(t, "a few retries", 5*time.Second, func() bool { return retries.Get() >= 3 })
	select {
	case err := <-done:
		t.Fatalf("Accept returned %v while it should retry", err)
	default:
	}
	start := time.Now()
	rl.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v; want net.ErrClosed", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("Accept took %v to notice Close", took)
	}
}

func TestRetryableAccept(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "accept", Err: syscall.EMFILE}, true},
		{&net.OpError{Op: "accept", Err: syscall.ENFILE}, true},
		{&net.OpError{Op: "accept", Err: syscall.ECONNABORTED}, true},
		{net.ErrClosed, false},
		{&net.OpError{Op: "accept", Err: net.ErrClosed}, false},
		{errors.New("something else"), false},
	} {
		if got := retryableAccept(tc.err); got != tc.want {
			t.Errorf("retryableAccept(%v) = %v; want %v", tc.err, got, tc.want)
		}
	}
}

func TestRejectingRoom(t *testing.T) {
	for _, tc := range []struct{ maxConns, fdLimit, want int }{
		{18000, 20000, 1000},
		{921, 1024, 51},
		{-1, 1024, maxRejecting},
		{100, 0, maxRejecting},
		{5000, 1024, 0}, // MaxConns beyond the limit: no marked connection fits
		{900_000, 1 << 20, maxRejecting},
	} {
		if got := rejectingRoom(tc.maxConns, tc.fdLimit); got != tc.want {
			t.Errorf("rejectingRoom(%d, %d) = %d; want %d", tc.maxConns, tc.fdLimit, got, tc.want)
		}
	}
}
