//go:build linux

package transport

import (
	"context"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// A keep-alive interval far beyond every bound below: what these tests see
// is the hang-up watcher, not the keep-alive peek.
const longKeepAlive = time.Hour

// openFDs counts the process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// rawSubscribe opens a stream without reading anything back: the response
// waits in the socket.
func rawSubscribe(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(getReq(addr, "/events"))); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDeparturesReleasedAtOnce: 1,000 clients close at once; the connection
// gauge, the streams, the goroutines and the open descriptors are back to
// their baseline well before any keep-alive (the goal is 1s; the
// bound here leaves room for -race on a loaded machine; the measured figure
// is in docs/transport.md).
func TestDeparturesReleasedAtOnce(t *testing.T) {
	const clients, bound = 1000, 5 * time.Second
	ts := startServer(t, Config{KeepAlive: longKeepAlive})
	// Warm up: the first stream starts the sweeper and the watcher.
	warm := rawSubscribe(t, ts.addr)
	waitFor(t, "the first stream", 5*time.Second, func() bool { return ts.nStreams.Load() == 1 })
	warm.Close()
	waitFor(t, "the first stream to go", bound, func() bool { return ts.nStreams.Load() == 0 })
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	cs := make([]net.Conn, clients)
	for i := range cs {
		cs[i] = rawSubscribe(t, ts.addr)
	}
	waitFor(t, "all streams watched", 20*time.Second, func() bool {
		return ts.nStreams.Load() == clients && ts.nWatched.Load() == clients
	})
	for _, m := range []string{mOpenConns, mConnections, mHangupWatched} {
		if got := ts.metric(m); got != clients {
			t.Fatalf("%s = %v; want %d", m, got, clients)
		}
	}
	start := time.Now()
	for _, c := range cs {
		c.Close()
	}
	var g, fds int
	waitFor(t, "connections, streams, goroutines and descriptors back to baseline", bound, func() bool {
		g, fds = runtime.NumGoroutine(), openFDs(t)
		return ts.guard.openConns() == 0 && ts.nStreams.Load() == 0 && g <= baseG && fds <= baseFD
	})
	if got := ts.metric(mHangupWatched); got != 0 {
		t.Fatalf("%s = %v after every departure", mHangupWatched, got)
	}
	t.Logf("%d departures released in %v (goroutines %d, baseline %d; descriptors %d, baseline %d)",
		clients, time.Since(start).Round(time.Millisecond), g, baseG, fds, baseFD)
	if got := ts.metric(`ringcast_disconnects_total{reason="client-gone"}`); got != clients+1 {
		t.Fatalf("client-gone = %v; want %d", got, clients+1)
	}
}

// TestMaxConnsPerIPFreedAtOnce: with MaxConnsPerIP 4, four streams closed
// free their address's slots at once: a fifth is accepted within 100ms.
func TestMaxConnsPerIPFreedAtOnce(t *testing.T) {
	const bound = 100 * time.Millisecond
	ts := startServer(t, Config{MaxConnsPerIP: 4, KeepAlive: longKeepAlive})
	var cs []*sseClient
	for range 4 {
		c := dial(t, ts.addr, eventsPath(), dialOpt{})
		if c.status() != 200 {
			t.Fatalf("under the limit: %s", c.Head)
		}
		cs = append(cs, c)
	}
	if r := rawRoundTrip(t, ts.addr, "127.0.0.1", getReq(ts.addr, "/events")); r.status != 429 {
		t.Fatalf("a fifth while four are open: %d %s", r.status, r.body)
	}
	start := time.Now()
	for _, c := range cs {
		c.conn.Close()
	}
	waitFor(t, "the four slots to be freed", 5*time.Second, func() bool { return ts.guard.openConns() == 0 })
	fifth := dial(t, ts.addr, eventsPath(), dialOpt{})
	took := time.Since(start)
	if fifth.status() != 200 {
		t.Fatalf("the fifth: %s", fifth.Head)
	}
	if took > bound {
		t.Fatalf("the fifth was accepted %v after the four closed; want within %v", took, bound)
	}
}

// TestPipelinedRequestIsNotDeparture: bytes a client sends on its open
// stream (a pipelined request) neither end the stream nor get an answer;
// its half-close then ends the stream at once, cleanly: a client still
// reading gets the terminating chunk.
func TestPipelinedRequestIsNotDeparture(t *testing.T) {
	ts := startServer(t, Config{KeepAlive: longKeepAlive})
	c := dial(t, ts.addr, eventsPath("a"), dialOpt{})
	c.readBytes(len(ts.retryFrame), 5*time.Second)
	if _, err := c.conn.Write([]byte(getReq(ts.addr, "/healthz"))); err != nil {
		t.Fatal(err)
	}
	// The pipelined request went out before this publish: if it counted as
	// a departure, the stream would be ending and the event not delivered.
	ts.publish(Event{Topic: "a", Data: []byte("after the pipelined request")})
	if evs := c.next(1, 5*time.Second); string(evs[0].Data) != "after the pipelined request" {
		t.Fatalf("got %+v", evs)
	}
	if n := ts.nStreams.Load(); n != 1 {
		t.Fatalf("%d streams after a pipelined request; want 1", n)
	}
	if err := c.conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	ended, evs := c.readToEnd(5 * time.Second)
	if !ended || len(evs) != 0 {
		t.Fatalf("after the half-close: ended %v, events %+v; want the terminating chunk only", ended, evs)
	}
	waitFor(t, "the stream to go", 5*time.Second, func() bool { return ts.nStreams.Load() == 0 })
	if got := ts.metric(`ringcast_disconnects_total{reason="client-gone"}`); got != 1 {
		t.Fatalf("client-gone = %v; want 1", got)
	}
}

// TestShutdownDuringDepartures: clients leave while Shutdown runs (the
// watcher tells streams that Shutdown is ending, and closes after them).
// Every stream ends once, counted as one reason or the other; Shutdown
// returns in time; nothing is left (goleak, TestMain).
func TestShutdownDuringDepartures(t *testing.T) {
	const clients = 200
	for round := range 5 {
		s, err := New(Config{Epoch: testEpoch, Logger: testLogger(), KeepAlive: longKeepAlive})
		if err != nil {
			t.Fatal(err)
		}
		s.fast.MaxIdleWorkerDuration = 50 * time.Millisecond
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(ln) }()
		cs := make([]net.Conn, clients)
		for i := range cs {
			cs[i] = rawSubscribe(t, ln.Addr().String())
		}
		waitFor(t, "all streams", 20*time.Second, func() bool { return s.nStreams.Load() == clients })
		left := make(chan struct{})
		go func() {
			defer close(left)
			for i, c := range cs {
				if i%2 == round%2 {
					c.Close()
				}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("round %d: Shutdown: %v", round, err)
		}
		cancel()
		<-left
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		var ended uint64
		for _, r := range []string{goneClient, goneShutdown, goneWriteError} {
			ended += s.m.disconnects[r].Get()
		}
		if ended != clients || s.nStreams.Load() != 0 || s.nWatched.Load() != 0 {
			t.Fatalf("round %d: %v disconnects counted, %d streams and %d watches left; want %d, 0, 0",
				round, ended, s.nStreams.Load(), s.nWatched.Load(), clients)
		}
	}
}
