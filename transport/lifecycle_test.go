package transport

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestChanEngineStrategies holds a client still while the publisher offers
// ten events to its four-slot channel, then checks what each strategy made
// of them.
func TestChanEngineStrategies(t *testing.T) {
	cases := []struct {
		policy SlowClient
		want   string // after "first" (seq 1): events 2..11 as the client sees them
		gone   bool   // the stream ends instead
	}{
		{DropOldest, "lagged 8 9 10 11", false}, // 2..7 pushed out of the channel
		{DropNewest, "2 3 4 5 lagged", false},   // 6..11 did not fit
		{Block, seqRange(2, 11), false},         // the publisher waited
		{Unbounded, seqRange(2, 11), false},     // the queue grew
		{Disconnect, "", true},                  // the fifth did not fit: let go
	}
	for _, tc := range cases {
		t.Run(string(tc.policy), func(t *testing.T) {
			ts, g, c := lagSetup(t, Config{Engine: EngineChan, ChanBuffer: 4, SlowClient: tc.policy}, eventsPath("a"), "a")
			published := make(chan struct{})
			go func() {
				defer close(published)
				for i := range 10 {
					if _, err := ts.Publish(Event{Topic: "a", Data: []byte(strconv.Itoa(i + 2))}); err != nil {
						t.Errorf("Publish: %v", err)
					}
				}
			}()
			if tc.policy == Block {
				// The publisher fills the channel and waits on the held client.
				waitFor(t, "a full channel", 5*time.Second, func() bool { return ts.eng.maxLag() == 4 })
				select {
				case <-published:
					t.Fatalf("block: the publisher did not wait for the client")
				default:
				}
			} else {
				<-published
			}
			g.release()
			if tc.gone {
				if ended, evs := c.readToEnd(5 * time.Second); !ended || len(evs) != 0 {
					t.Fatalf("ended cleanly %v, events %s", ended, fmtEvents(evs))
				}
				// The client sees the end before the server has counted it: wait.
				waitFor(t, "the slow-client disconnect to be counted", 5*time.Second, func() bool {
					return ts.metric(`ringcast_disconnects_total{reason="slow-client"}`) == 1
				})
				return
			}
			evs := c.next(len(strings.Fields(tc.want)), 5*time.Second)
			if got := seqs(t, evs); got != tc.want {
				t.Fatalf("got %s; want %s", got, tc.want)
			}
			for _, ev := range evs {
				if ev.Type == "lagged" {
					if n := *decodeNotice(t, ev).Skipped; n != 6 {
						t.Fatalf("lagged %d; want 6", n)
					}
				}
			}
			<-published
			c.expectNothing(20 * time.Millisecond)
		})
	}
}

// TestDisconnectCleanup connects hundreds of clients, drops them all, and
// waits until the server holds nothing for them: no stream, no reader, no
// goroutine beyond the baseline.
func TestDisconnectCleanup(t *testing.T) {
	for _, engine := range []Engine{EngineRing, EngineChan} {
		t.Run(string(engine), func(t *testing.T) {
			const clients = 300
			ts := startServer(t, Config{Engine: engine, KeepAlive: 50 * time.Millisecond})
			// Warm up: the first stream starts the keep-alive sweeper.
			warm := dial(t, ts.addr, eventsPath(), dialOpt{})
			waitFor(t, "the first stream", 5*time.Second, func() bool { return ts.nStreams.Load() == 1 })
			warm.conn.Close()
			waitFor(t, "the first stream to go", 5*time.Second, func() bool { return ts.nStreams.Load() == 0 })
			base := runtime.NumGoroutine()
			var cs []*sseClient
			for i := range clients {
				path := eventsPath() // all topics, one topic (its own ring), two topics (filtered)
				switch i % 3 {
				case 1:
					path = eventsPath("t" + strconv.Itoa(i%7))
				case 2:
					path = eventsPath("t1", "t"+strconv.Itoa(i%5))
				}
				cs = append(cs, dial(t, ts.addr, path, dialOpt{}))
			}
			waitFor(t, "all streams", 10*time.Second, func() bool { return ts.nStreams.Load() == clients })
			if got := ts.readers(); got != clients {
				t.Fatalf("%d readers for %d streams", got, clients)
			}
			for _, c := range cs {
				c.conn.Close()
			}
			waitFor(t, "streams, readers and goroutines back to baseline", 10*time.Second, func() bool {
				ok := ts.nStreams.Load() == 0 && ts.readers() == 0 && runtime.NumGoroutine() <= base
				if !ok && testing.Verbose() {
					t.Logf("streams %d readers %d goroutines %d (baseline %d)", ts.nStreams.Load(), ts.readers(), runtime.NumGoroutine(), base)
				}
				return ok
			})
			gone := ts.metric(`ringcast_disconnects_total{reason="client-gone"}`) + ts.metric(`ringcast_disconnects_total{reason="write-error"}`)
			if gone != clients+1 {
				t.Fatalf("disconnects counted: %v; want %d", gone, clients)
			}
		})
	}
}

// TestPeerGoneNoticedAtKeepAlive: without the hang-up watcher (other
// systems), an idle client that leaves is let go at the next keep-alive,
// seen by the peek at its socket, not by a later write.
func TestPeerGoneNoticedAtKeepAlive(t *testing.T) {
	ts := startServer(t, Config{KeepAlive: 30 * time.Millisecond}, func(s *Server) { s.testNoHangupWatch = true })
	c := dial(t, ts.addr, eventsPath(), dialOpt{})
	c.readBytes(len("retry: 3000\n\n"), 5*time.Second)
	c.conn.(*net.TCPConn).CloseWrite() // FIN, and keep reading: writes still succeed
	waitFor(t, "the stream to notice", 5*time.Second, func() bool { return ts.nStreams.Load() == 0 })
	if got := ts.metric(`ringcast_disconnects_total{reason="client-gone"}`); got != 1 {
		t.Fatalf("client-gone = %v", got)
	}
}

func TestWriteTimeout(t *testing.T) {
	ts := startServer(t, Config{Capacity: 64, WriteTimeout: 100 * time.Millisecond, MaxEventBytes: 1 << 20})
	c := dial(t, ts.addr, eventsPath(), dialOpt{rcvBuf: 4096})
	c.readBytes(len("retry: 3000\n\n"), 5*time.Second)
	// The client stops reading; the server's writes back up until one times out.
	payload := []byte(strings.Repeat("x", 256<<10))
	for i := 0; ts.nStreams.Load() > 0; i++ {
		if i == 400 { // 100 MiB: far beyond any socket buffer
			t.Fatalf("the stream survived %d unread events", i)
		}
		ts.publish(Event{Topic: "a", Data: payload})
		time.Sleep(time.Millisecond) // pace the publisher; the condition is polled
	}
	if got := ts.metric(`ringcast_disconnects_total{reason="write-timeout"}`); got != 1 {
		t.Fatalf("write-timeout = %v", got)
	}
}

func TestShutdownWithOpenStreams(t *testing.T) {
	for _, engine := range []Engine{EngineRing, EngineChan} {
		t.Run(string(engine), func(t *testing.T) {
			ts := startServer(t, Config{Engine: engine})
			var cs []*sseClient
			for i := range 40 {
				cs = append(cs, dial(t, ts.addr, eventsPath([]string{"", "a"}[i%2:][0:min(1, i%2)]...), dialOpt{}))
			}
			waitFor(t, "streams", 5*time.Second, func() bool { return ts.nStreams.Load() == 40 })
			ts.publishN("a", 5, "e")
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := ts.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Shutdown took %v", d)
			}
			// Every stream got the events published before Shutdown, then
			// the terminating chunk.
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ended, evs := c.readToEnd(5 * time.Second)
					if !ended || len(evs) != 5 {
						t.Errorf("ended cleanly %v after %d events; want 5 and the last chunk", ended, len(evs))
					}
				}()
			}
			wg.Wait()
			if _, err := ts.Publish(Event{Topic: "a"}); err != ErrClosed {
				t.Fatalf("Publish after Shutdown: %v", err)
			}
			if got := ts.metric(`ringcast_disconnects_total{reason="shutdown"}`); got != 40 {
				t.Fatalf("shutdown disconnects = %v", got)
			}
			if conn, err := net.Dial("tcp", ts.addr); err == nil {
				conn.Close()
				t.Fatalf("the listener still accepts after Shutdown")
			}
		})
	}
}

// TestShutdownStuckClient: a client that stopped reading keeps its stream
// in a write; Shutdown closes its connection at the deadline and returns.
func TestShutdownStuckClient(t *testing.T) {
	ts := startServer(t, Config{Capacity: 64, WriteTimeout: time.Minute, MaxEventBytes: 1 << 20})
	c := dial(t, ts.addr, eventsPath(), dialOpt{rcvBuf: 4096})
	c.readBytes(len("retry: 3000\n\n"), 5*time.Second)
	payload := []byte(strings.Repeat("y", 256<<10))
	for range 64 { // 16 MiB: the stream is stuck in a write long before
		ts.publish(Event{Topic: "a", Data: payload})
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := ts.Shutdown(ctx)
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Fatalf("Shutdown took %v with a 500ms deadline", d)
	}
	if err == nil || !strings.Contains(err.Error(), "did not end in time") {
		t.Fatalf("Shutdown: %v; want the forced close reported", err)
	}
	waitFor(t, "the stuck stream to go", 5*time.Second, func() bool { return ts.nStreams.Load() == 0 })
}

func TestDebounce(t *testing.T) {
	ts := startServer(t, Config{Debounce: 50 * time.Millisecond})
	c := dial(t, ts.addr, eventsPath(), dialOpt{})
	waitFor(t, "stream", 5*time.Second, func() bool { return ts.nStreams.Load() == 1 })
	ids := ts.publish(
		Event{Topic: "a", Key: "k", Data: []byte("v1")},
		Event{Topic: "a", Data: []byte("keyless")},
		Event{Topic: "a", Key: "k", Data: []byte("v2")},
		Event{Topic: "b", Key: "k", Data: []byte("other topic")},
		Event{Topic: "a", Key: "k", Data: []byte("v3")},
	)
	// The keyless event went at once; the three of (a, k) became the last.
	if ids[1] != "test-1/a" || ids[0] != ids[2] || ids[2] != ids[4] || ids[0] == ids[3] {
		t.Fatalf("ids %v", ids)
	}
	evs := c.next(3, 5*time.Second)
	var got []string
	for _, e := range evs {
		got = append(got, e.LastEventID+"="+e.Data)
	}
	want := []string{"test-1/a=keyless", ids[0] + "=v3", ids[3] + "=other topic"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v; want %v", got, want)
	}
	if got := ts.metric("ringcast_debounced_events_total"); got != 2 {
		t.Fatalf("debounced = %v; want 2", got)
	}
	if got := ts.metric("ringcast_events_published_total"); got != 3 {
		t.Fatalf("published = %v; want 3", got)
	}
}

// TestBatchWindow checks the pacing: an event that finds its stream idle for
// a window goes out at once; events that follow within the window wait until a
// window has passed since that write and share one write.
func TestBatchWindow(t *testing.T) {
	const window = 600 * time.Millisecond
	ts := startServer(t, Config{BatchWindow: window})
	c := dial(t, ts.addr, eventsPath(), dialOpt{})
	waitFor(t, "stream", 5*time.Second, func() bool { return ts.nStreams.Load() == 1 })
	var st *stream
	ts.streamsMu.Lock()
	for s := range ts.streams {
		st = s
	}
	ts.streamsMu.Unlock()
	// The response head counts as a write: wait until the stream has been
	// idle for a window, so that the next event is not paced.
	waitFor(t, "an idle window", 5*time.Second, func() bool { return time.Duration(st.idle()) > window })

	t0 := time.Now()
	ts.publish(Event{Topic: "a", Data: []byte("0")})
	if got := seqs(t, c.next(1, 5*time.Second)); got != "1" {
		t.Fatalf("got %s", got)
	}
	first := time.Since(t0)
	if first >= window/2 {
		t.Fatalf("the first event after an idle window took %v: it should not wait for the window (%v)", first, window)
	}
	t1 := time.Now()
	for i := 1; i < 5; i++ {
		ts.publish(Event{Topic: "a", Data: []byte(strconv.Itoa(i))})
	}
	if got := seqs(t, c.next(4, 5*time.Second)); got != "2 3 4 5" {
		t.Fatalf("got %s", got)
	}
	// The stream wrote event 1 before t1, so events 2-5 may go out no sooner
	// than a window after that write: at least window - (t1 - t0) after t1.
	if d, min := time.Since(t1), window-t1.Sub(t0); d < min {
		t.Fatalf("events published within the window arrived %v later; pacing allows no less than %v", d, min)
	}
	// Four publishes within the window went out in one write. (The metrics
	// are updated after the write returns: wait for them.)
	waitFor(t, "the write metrics", 5*time.Second, func() bool { return ts.metric("ringcast_events_delivered_total") == 5 })
	if n := ts.metric("ringcast_batch_events_count"); n != 2 {
		t.Fatalf("%v writes of events; want 2 (one unpaced, one for the four paced events)", n)
	}
}
