//go:build linux

package transport

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// hangupRecorder is a hangupTarget that counts how often it was told.
type hangupRecorder struct {
	n    atomic.Int32
	told chan struct{} // closed at the first hangUp
}

func newHangupRecorder() *hangupRecorder { return &hangupRecorder{told: make(chan struct{})} }

func (r *hangupRecorder) hangUp() {
	if r.n.Add(1) == 1 {
		close(r.told)
	}
}

func (r *hangupRecorder) waitTold(t *testing.T, what string) {
	t.Helper()
	select {
	case <-r.told:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the watcher said nothing in 5s", what)
	}
}

func startHangupWatcher(t *testing.T) *hangupWatcher {
	t.Helper()
	w, err := newHangupWatcher()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	return w
}

// tcpPair returns both ends of a loopback TCP connection, closed when the
// test ends.
func tcpPair(t *testing.T, ln net.Listener) (server, client *net.TCPConn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { sc.Close(); cc.Close() })
	return sc.(*net.TCPConn), cc.(*net.TCPConn)
}

func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// watchPair watches the server end of a fresh pair.
func watchPair(t *testing.T, w *hangupWatcher, ln net.Listener) (*net.TCPConn, *net.TCPConn, *hangupRecorder, hangupToken) {
	t.Helper()
	s, c := tcpPair(t, ln)
	r := newHangupRecorder()
	tok, err := w.watch(s, r)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	return s, c, r, tok
}

// TestHangupWatcherTellsDepartures: a close, a half-close (FIN, the client
// still reading) and a reset are each told once (H1).
func TestHangupWatcherTellsDepartures(t *testing.T) {
	w := startHangupWatcher(t)
	ln := loopbackListener(t)
	for _, tc := range []struct {
		name  string
		leave func(*net.TCPConn)
	}{
		{"close", func(c *net.TCPConn) { c.Close() }},
		{"half-close", func(c *net.TCPConn) { c.CloseWrite() }},
		{"reset", func(c *net.TCPConn) { c.SetLinger(0); c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, r, tok := watchPair(t, w, ln)
			tc.leave(c)
			r.waitTold(t, tc.name)
			// Once only (EPOLLONESHOT), though the socket stays hung up:
			// a second departure told later would have to overtake it.
			s2, c2, r2, tok2 := watchPair(t, w, ln)
			c2.Close()
			r2.waitTold(t, "the second pair")
			if n := r.n.Load(); n != 1 {
				t.Fatalf("told %d times; want 1", n)
			}
			w.forget(s, tok)
			w.forget(s2, tok2)
		})
	}
	if n := w.watched(); n != 0 {
		t.Fatalf("%d sockets still watched after every forget", n)
	}
}

// TestHangupWatcherIgnoresData: bytes from the client (a pipelined request)
// are not a departure, and stay unread in the socket (H1).
func TestHangupWatcherIgnoresData(t *testing.T) {
	w := startHangupWatcher(t)
	ln := loopbackListener(t)
	s, c, r, tok := watchPair(t, w, ln)
	req := "GET /events HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	// Over loopback the bytes are queued on s before Write returns, so a
	// report for them would be in the ready list before the departure below.
	s2, c2, r2, tok2 := watchPair(t, w, ln)
	c2.Close()
	r2.waitTold(t, "the departure after the data")
	if n := r.n.Load(); n != 0 {
		t.Fatalf("data told as a departure (%d)", n)
	}
	buf := make([]byte, 64)
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := s.Read(buf); err != nil || string(buf[:n]) != req {
		t.Fatalf("read %q, %v; want the request still there", buf[:n], err)
	}
	// A departure after data is still a departure.
	c.Close()
	r.waitTold(t, "close after data")
	w.forget(s, tok)
	w.forget(s2, tok2)
}

// TestHangupWatcherAlreadyGone: a client that left before the watch began
// is told at once (epoll_ctl reports the state it finds).
func TestHangupWatcherAlreadyGone(t *testing.T) {
	w := startHangupWatcher(t)
	ln := loopbackListener(t)
	s, c := tcpPair(t, ln)
	c.Close()
	// Wait for the FIN: a read of the server end returns EOF.
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data; want EOF")
	}
	r := newHangupRecorder()
	tok, err := w.watch(s, r)
	if err != nil {
		t.Fatal(err)
	}
	r.waitTold(t, "a client gone before the watch")
	w.forget(s, tok)
}

// TestHangupWatcherForget: once forget has returned, the target is not told
// (H4), and its slot serves another watch under a new generation (H2).
func TestHangupWatcherForget(t *testing.T) {
	w := startHangupWatcher(t)
	ln := loopbackListener(t)
	s, c, r, tok := watchPair(t, w, ln)
	w.forget(s, tok)
	s2, c2, r2, tok2 := watchPair(t, w, ln)
	if tok2.slot() != tok.slot() || tok2.gen() == tok.gen() {
		t.Fatalf("second token %#x after %#x: want the same slot, another generation", tok2, tok)
	}
	c.Close()
	c2.Close()
	r2.waitTold(t, "the second watch")
	if n := r.n.Load(); n != 0 {
		t.Fatalf("a forgotten watch was told (%d)", n)
	}
	// Stale tokens, as when a report was taken from epoll_wait before its
	// socket was forgotten, closed and its number reused: the slot's new
	// watch (its client still there) is not told.
	w.forget(s2, tok2)
	s3, _, r3, tok3 := watchPair(t, w, ln)
	if tok3.slot() != tok.slot() {
		t.Fatalf("third token %#x: want slot %d again", tok3, tok.slot())
	}
	w.tell([]syscall.EpollEvent{{Fd: int32(tok.slot()), Pad: int32(tok.gen())}, {Fd: int32(tok2.slot()), Pad: int32(tok2.gen())}})
	if r.n.Load() != 0 || r2.n.Load() != 1 || r3.n.Load() != 0 {
		t.Fatalf("stale tokens told: %d, %d, %d", r.n.Load(), r2.n.Load(), r3.n.Load())
	}
	w.forget(s3, tok3)
	// Forgetting after the socket is closed (Shutdown closed it under the
	// stream) frees the slot all the same.
	s4, _, _, tok4 := watchPair(t, w, ln)
	s4.Close()
	w.forget(s4, tok4)
	if n := w.watched(); n != 0 {
		t.Fatalf("%d sockets still watched", n)
	}
}

// TestHangupWatcherUnwatchable: what has no socket is refused, and so is
// everything once the watcher is closed; the watcher's goroutine has ended
// (goleak, TestMain).
func TestHangupWatcherUnwatchable(t *testing.T) {
	w, err := newHangupWatcher()
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if _, err := w.watch(p1, newHangupRecorder()); !errors.Is(err, errHangupUnwatchable) {
		t.Fatalf("net.Pipe: %v; want errHangupUnwatchable", err)
	}
	ln := loopbackListener(t)
	s, _ := tcpPair(t, ln)
	w.close()
	if _, err := w.watch(s, newHangupRecorder()); err == nil {
		t.Fatal("watch after close succeeded")
	}
	if n := w.watched(); n != 0 {
		t.Fatalf("%d slots held by failed watches", n)
	}
}

// TestHangupWatcherMany: a thousand clients leave at once; each is told
// exactly once, concurrent watches and forgets included (run with -race).
func TestHangupWatcherMany(t *testing.T) {
	const n = 1000
	w := startHangupWatcher(t)
	ln := loopbackListener(t)
	servers := make([]*net.TCPConn, n)
	clients := make([]*net.TCPConn, n)
	recs := make([]*hangupRecorder, n)
	toks := make([]hangupToken, n)
	for i := range n {
		servers[i], clients[i], recs[i], toks[i] = watchPair(t, w, ln)
	}
	for _, c := range clients {
		c.Close()
	}
	done := make(chan int)
	for half := range 2 {
		go func() {
			for i := half; i < n; i += 2 {
				select {
				case <-recs[i].told:
				case <-time.After(10 * time.Second):
					done <- i
					return
				}
				w.forget(servers[i], toks[i])
				servers[i].Close()
			}
			done <- -1
		}()
	}
	for range 2 {
		if i := <-done; i >= 0 {
			t.Fatalf("client %d's departure not told", i)
		}
	}
	for i, r := range recs {
		if got := r.n.Load(); got != 1 {
			t.Fatalf("client %d told %d times", i, got)
		}
	}
	if got := w.watched(); got != 0 {
		t.Fatalf("%d still watched", got)
	}
}

// forgetRecorder fails the test if it is told after its forget returned (H4).
type forgetRecorder struct {
	hangupRecorder
	forgotten atomic.Bool
	late      atomic.Int32
}

func (r *forgetRecorder) hangUp() {
	if r.forgotten.Load() {
		r.late.Add(1)
	}
	r.hangupRecorder.hangUp()
}

// TestHangupWatcherStress: watches begin and end on several goroutines at
// once, slots are reused under new generations, and departures race with
// forget: each target is told at most once, never after its forget has
// returned, and every departure watched to the end is told (H2, H4; run
// with -race).
func TestHangupWatcherStress(t *testing.T) {
	const workers, rounds = 4, 150
	w := startHangupWatcher(t)
	ln := loopbackListener(t)
	type pair struct{ s, c *net.TCPConn }
	pairs := make([][]pair, workers)
	recs := make([][]*forgetRecorder, workers)
	for g := range pairs {
		for range rounds {
			s, c := tcpPair(t, ln)
			pairs[g] = append(pairs[g], pair{s, c})
			recs[g] = append(recs[g], &forgetRecorder{hangupRecorder: hangupRecorder{told: make(chan struct{})}})
		}
	}
	done := make(chan string, workers)
	for g := range workers {
		go func() {
			for i, p := range pairs[g] {
				r := recs[g][i]
				tok, err := w.watch(p.s, r)
				if err != nil {
					done <- err.Error()
					return
				}
				switch (g + i) % 3 {
				case 0: // the client leaves; the watch lasts until it is told
					p.c.Close()
					select {
					case <-r.told:
					case <-time.After(10 * time.Second):
						done <- "a departure was not told"
						return
					}
				case 1: // the client leaves while the watch ends
					p.c.Close()
					// Vary the moment (not a synchronisation): forget lands
					// before the report, while the watcher holds it, or after.
					time.Sleep(time.Duration(i%4) * 30 * time.Microsecond)
				case 2: // the watch ends, then the client leaves
				}
				w.forget(p.s, tok)
				r.forgotten.Store(true)
				p.c.Close()
				p.s.Close()
			}
			done <- ""
		}()
	}
	for range workers {
		if msg := <-done; msg != "" {
			t.Fatal(msg)
		}
	}
	for g := range recs {
		for i, r := range recs[g] {
			if n, late := r.n.Load(), r.late.Load(); n > 1 || late > 0 {
				t.Fatalf("worker %d round %d: told %d times, %d after forget", g, i, n, late)
			}
		}
	}
	if n := w.watched(); n != 0 {
		t.Fatalf("%d still watched", n)
	}
}
