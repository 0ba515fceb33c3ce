package loadgen

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
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
					if g, err = startPollGroup(loopCtx, r); err != nil {
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
				if n := r.loopStreams.Load(); reader == ReaderEpoll && n != 1 {
					t.Fatalf("the loop read %d streams, want 1", n)
				}
			})
		}
	}
}
