package transport

// Accepting under descriptor exhaustion. When the process is out of file
// descriptors (EMFILE, or ENFILE system-wide) accept fails; fasthttp treats
// that as fatal and Serve returns, so a flood of silent connects larger than
// the limit would stop the server. The connections that hold the descriptors
// go away on their own (each is answered or let go within --read-timeout),
// so the right answer is net/http's: wait a little, doubling from 5 ms to
// 1 s, and accept again. Meanwhile the kernel keeps the newcomers in the
// listen backlog, and the streams already open keep flowing.
//
// Invariants:
//   A1. Accept returns an error only once the listener is closed, or for an
//       error that retrying cannot cure; a retryable error is counted and
//       waited out, never returned.
//   A2. A wait ends at once when the listener is closed, so Shutdown is not
//       held up by a back-off.

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

const (
	mAcceptRetries = "ringcast_accept_retries_total"

	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// retryListener is a listener whose Accept waits out transient failures.
type retryListener struct {
	net.Listener
	log     *slog.Logger
	retries *metrics.Counter

	done      chan struct{}
	closeOnce sync.Once
	lastLog   time.Time // only Accept's goroutine touches it
}

func newRetryListener(ln net.Listener, log *slog.Logger, retries *metrics.Counter) *retryListener {
	return &retryListener{Listener: ln, log: log, retries: retries, done: make(chan struct{})}
}

func (l *retryListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if !retryableAccept(err) {
			return nil, err // A1
		}
		delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
		l.retries.Inc()
		if now := time.Now(); now.Sub(l.lastLog) >= 10*time.Second {
			l.lastLog = now
			l.log.Warn("accept failed; retrying (out of file descriptors: raise the limit, ulimit -n, or lower --max-conns)",
				"err", err, "retry_in", delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.done: // A2
			t.Stop()
			return nil, net.ErrClosed
		}
	}
}

func (l *retryListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// retryableAccept reports whether accept may succeed later: the process or
// the system is out of descriptors or buffers, or a connection went away
// before it was accepted.
func retryableAccept(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
