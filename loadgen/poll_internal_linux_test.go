package loadgen

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rawSSEServer answers every request on loopback with resp, written at once,
// and then holds the connection open (hold) or closes it.
func rawSSEServer(t *testing.T, resp string, hold bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				n := 0
				for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
					m, err := c.Read(buf[n:])
					if err != nil {
						return
					}
					n += m
				}
				c.Write([]byte(resp))
				if hold {
					<-done
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// A body that is not chunked ends at its Content-Length even while the
// connection stays open, or at EOF without one; both readers see every event
// and nothing after. The body is longer than the read buffer that takes the
// response head, so the event loop reads the rest of it.
func TestStreamEndWithoutChunking(t *testing.T) {
	const events = 40
	body := strings.Repeat("data: xxxxxxxxxx\n\n", events)
	for _, tc := range []struct {
		name string
		head string
		hold bool
	}{
		{"content-length", "Content-Length: " + strconv.Itoa(len(body)) + "\r\n", true},
		{"until-close", "", false},
	} {
		for _, reader := range []string{ReaderGoroutine, ReaderEpoll} {
			t.Run(tc.name+"/"+reader, func(t *testing.T) {
				url := rawSSEServer(t, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"+tc.head+"\r\n"+body, tc.hold)
				cfg := Config{URL: url, Reader: reader, Subscribers: 1, ReadBuffer: 512, MetricsURL: "off"}
				if err := cfg.setDefaults(); err != nil {
					t.Fatal(err)
				}
				r, err := newRun(cfg)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				loopCtx, stopLoops := context.WithCancel(ctx)
				var g *pollGroup
				s := r.subs[0]
				if reader == ReaderEpoll {
					if g, err = startPollGroup(loopCtx, r.cfg.ReadBuffer, r.coll); err != nil {
						t.Fatal(err)
					}
					s.loop = g.loops[0]
				}
				err = s.session(ctx)
				stopLoops()
				if g != nil {
					g.wait()
				}
				var se *streamError
				if !errors.As(err, &se) || se.Kind != "closed" || ctx.Err() != nil {
					t.Fatalf("session ended with %v (context %v), want the stream closed", err, ctx.Err())
				}
				if s.foreign != events {
					t.Fatalf("%d events, want %d", s.foreign, events)
				}
				if n := r.env.loopStreams.Load(); reader == ReaderEpoll && n != 1 {
					t.Fatalf("the loop read %d streams, want 1", n)
				}
			})
		}
	}
}

// loopbackPair connects d to a fresh loopback listener and returns both ends,
// closed when the test ends.
func loopbackPair(t *testing.T, d *net.Dialer) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// TestRecvArrivalTimestamp: a read reports when its bytes reached the socket
// (once the socket asks for timestamps), not when they were read.
func TestRecvArrivalTimestamp(t *testing.T) {
	cli, srv := loopbackPair(t, &net.Dialer{})
	fd, err := detach(cli)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.SetNonblock(fd, false); err != nil { // recv waits for the bytes
		t.Fatal(err)
	}
	l := &pollLoop{}
	l.setBuffer(make([]byte, 64))

	srv.Write([]byte("before"))
	if n, arrival, err := l.recv(fd); err != nil || string(l.buf[:n]) != "before" || arrival != 0 {
		t.Fatalf("without timestamps: %q, arrival %d, %v; want \"before\", 0", l.buf[:max(n, 0)], arrival, err)
	}

	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		t.Fatal(err)
	}
	// The first socket in the system to ask turns stamping on in a kernel
	// work item, shortly after: until then bytes come without a stamp.
	for i := 0; ; i++ {
		srv.Write([]byte("p"))
		if _, arrival, err := l.recv(fd); err != nil || arrival != 0 {
			break
		} else if i == 1000 {
			t.Fatal("no receive timestamp after 1000 reads")
		}
	}
	const held = 100 * time.Millisecond
	t0 := time.Now()
	srv.Write([]byte("after"))
	time.Sleep(held) // the delay under test: the bytes wait in the socket
	n, arrival, err := l.recv(fd)
	t1 := time.Now()
	if err != nil || string(l.buf[:n]) != "after" {
		t.Fatalf("recv: %q, %v", l.buf[:max(n, 0)], err)
	}
	if arrival < t0.UnixNano() || arrival > t1.UnixNano() {
		t.Fatalf("arrival %v outside the write..read interval [%v, %v]", time.Unix(0, arrival), t0, t1)
	}
	if waited := t1.UnixNano() - arrival; waited < int64(held/2) {
		t.Fatalf("the bytes waited %v in the socket by their timestamp; they were held %v", time.Duration(waited), held)
	}
}
