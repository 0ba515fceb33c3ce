package transport

// In-process benchmarks of the server over loopback sockets. The clients run
// in the same process and on the same two cores, so figures are for
// comparing engines and settings within one run, not absolute capacity; the
// load generator (ringcast loadgen, docs/e2e.md) measures the server alone.
//
//	go test -run XXX -bench . -benchtime 2000x -count 5 ./transport/

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchClient counts the frames (blank-line terminated) of one stream. It
// speaks HTTP/1.0, so the body is the bare event stream, no chunk framing.
type benchClient struct {
	conn     net.Conn
	frames   atomic.Int64
	onFrames func(total int64) // called with the new total after each read that completed frames
}

func dialBench(b *testing.B, addr, path string) *benchClient {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.0\r\nHost: bench\r\n\r\n"); err != nil {
		b.Fatal(err)
	}
	return &benchClient{conn: conn}
}

// run reads until the connection ends. The first frame (retry:) is counted too.
func (c *benchClient) run() {
	buf := make([]byte, 64<<10)
	var prev byte
	headDone := false
	for {
		n, err := c.conn.Read(buf)
		p := buf[:n]
		if !headDone {
			i := bytes.Index(p, []byte("\r\n\r\n"))
			if i < 0 {
				continue // the head arrives in one read on loopback
			}
			p, headDone = p[i+4:], true
		}
		k := bytes.Count(p, []byte("\n\n"))
		if len(p) > 0 && prev == '\n' && p[0] == '\n' {
			k++
		}
		if len(p) > 0 {
			prev = p[len(p)-1]
		}
		if k > 0 {
			total := c.frames.Add(int64(k))
			if c.onFrames != nil {
				c.onFrames(total)
			}
		}
		if err != nil {
			return
		}
	}
}

func benchServer(b *testing.B, cfg Config) *testServer {
	cfg.Logger = testLogger()
	return startServer(b, cfg)
}

// fanout connects n clients of topic "t" (all topics when allTopics) and
// waits until each has its first frame.
func fanout(b *testing.B, ts *testServer, n int, path string) ([]*benchClient, *sync.WaitGroup) {
	var wg sync.WaitGroup
	cs := make([]*benchClient, n)
	for i := range cs {
		cs[i] = dialBench(b, ts.addr, path)
		wg.Add(1)
		go func() { defer wg.Done(); cs[i].run() }()
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range cs {
		for c.frames.Load() < 1 {
			if time.Now().After(deadline) {
				b.Fatalf("clients did not connect")
			}
			time.Sleep(time.Millisecond)
		}
	}
	return cs, &wg
}

func slowest(cs []*benchClient) int64 {
	m := int64(1 << 62)
	for _, c := range cs {
		m = min(m, c.frames.Load())
	}
	return m - 1 // the retry frame
}

var payload128 = []byte(strings.Repeat("p", 128))

// BenchmarkFanoutThroughput publishes b.N events of 128 bytes, one per
// Publish call, to every client, never more than window events ahead of the
// slowest (so no engine ever has to drop: the figure is loss-free
// throughput). deliveries/s = clients × events / time.
func BenchmarkFanoutThroughput(b *testing.B) {
	const window = 512
	for _, engine := range []Engine{EngineRing, EngineChan} {
		for _, clients := range []int{10, 100, 1000} {
			for _, bw := range []time.Duration{NoBatchWindow, 0, 2 * time.Millisecond} {
				name := fmt.Sprintf("engine=%s/clients=%d/batch-window=%s", engine, clients, windowName(bw))
				b.Run(name, func(b *testing.B) {
					// The rings and channels hold more than the window.
					ts := benchServer(b, Config{Engine: engine, BatchWindow: bw, TopicCapacity: 4 * window, ChanBuffer: 2 * window})
					cs, wg := fanout(b, ts, clients, "/events?topic=t")
					b.ResetTimer()
					start := time.Now()
					// low is a lower bound on the slowest client (clients only
					// advance): rescan the clients only when the bound would let
					// the publisher past the window, not on every publish (a scan
					// of 1000 counters per event took 9% of the CPU).
					var low int64
					for i := range b.N {
						for int64(i)-low > window {
							if low = slowest(cs); int64(i)-low > window {
								runtime.Gosched()
							}
						}
						if _, err := ts.Publish(Event{Topic: "t", Data: payload128}); err != nil {
							b.Fatal(err)
						}
					}
					drainBy := time.Now().Add(time.Minute)
					for slowest(cs) < int64(b.N) {
						if time.Now().After(drainBy) {
							var counts []int64
							for _, c := range cs {
								counts = append(counts, c.frames.Load()-1)
							}
							b.Fatalf("clients stuck short of %d events: %v", b.N, counts)
						}
						runtime.Gosched()
					}
					elapsed := time.Since(start)
					b.StopTimer()
					b.ReportMetric(float64(clients)*float64(b.N)/elapsed.Seconds(), "deliveries/s")
					if n := ts.metric("ringcast_batch_events_count"); n > 0 {
						b.ReportMetric(ts.metric("ringcast_events_delivered_total")/n, "events/write")
					}
					if lag := ts.metric("ringcast_lagged_events_total") + ts.metric(`ringcast_dropped_events_total{reason="drop-oldest"}`); lag != 0 {
						b.Fatalf("%v events lost: the window let an engine overrun", lag)
					}
					for _, c := range cs {
						c.conn.Close()
					}
					wg.Wait()
				})
			}
		}
	}
}

// roundClients are bench clients that report, without polling, when every
// one of them has received its share of a round.
type roundClients struct {
	cs        []*benchClient
	target    atomic.Int64 // frames each client must reach (retry frame included)
	remaining atomic.Int64
	done      chan struct{}
}

func newRoundClients(b *testing.B, ts *testServer, paths []string) (*roundClients, *sync.WaitGroup) {
	r := &roundClients{done: make(chan struct{}, 1)}
	r.target.Store(1)
	r.remaining.Store(int64(len(paths)))
	var wg sync.WaitGroup
	for _, p := range paths {
		c := dialBench(b, ts.addr, p)
		r.cs = append(r.cs, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var reported int64 // the last target this client counted itself in for
			c.onFrames = func(n int64) {
				if t := r.target.Load(); n >= t && reported < t {
					reported = t
					if r.remaining.Add(-1) == 0 {
						r.done <- struct{}{}
					}
				}
			}
			c.run()
		}()
	}
	<-r.done // everyone has the retry frame
	return r, &wg
}

// expect arms the next round: each of the first n clients (all when n < 0)
// must reach target frames.
func (r *roundClients) expect(target int64, n int) {
	if n < 0 {
		n = len(r.cs)
	}
	r.remaining.Store(int64(n))
	r.target.Store(target)
}

// round publishes one event to topic and waits until n clients (all when
// n < 0) have target frames.
func (r *roundClients) round(b *testing.B, ts *testServer, topic string, target int64, n int) {
	r.expect(target, n)
	if _, err := ts.Publish(Event{Topic: topic, Data: payload128}); err != nil {
		b.Fatal(err)
	}
	<-r.done
}

func (r *roundClients) close(wg *sync.WaitGroup) {
	for _, c := range r.cs {
		c.conn.Close()
	}
	wg.Wait()
}

// BenchmarkFanoutLatency publishes one event at a time and waits until every
// client has it: ns/op is the time for one event to reach all clients when
// they are idle (the wake-up path), clients in this process included.
func BenchmarkFanoutLatency(b *testing.B) {
	for _, engine := range []Engine{EngineRing, EngineChan} {
		for _, clients := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("engine=%s/clients=%d", engine, clients), func(b *testing.B) {
				ts := benchServer(b, Config{Engine: engine})
				paths := make([]string, clients)
				for i := range paths {
					paths[i] = "/events?topic=t"
				}
				r, wg := newRoundClients(b, ts, paths)
				b.ResetTimer()
				for i := range b.N {
					r.round(b, ts, "t", int64(i+2), -1)
				}
				b.StopTimer()
				r.close(wg)
			})
		}
	}
}

// BenchmarkTopicIsolation: 1,000 clients, each on a topic of its own; each
// op publishes one event to one topic (round robin) and waits for its one
// client. With a ring per topic the other 999 clients never wake; with
// max-topic-rings=-1 every client reads the global ring and skips the other
// topics' events, so each event wakes all of them.
func BenchmarkTopicIsolation(b *testing.B) {
	const clients = 1000
	for _, v := range []struct {
		name string
		cfg  Config
	}{
		{"engine=ring", Config{Engine: EngineRing}},
		{"engine=ring/max-topic-rings=-1", Config{Engine: EngineRing, MaxTopicRings: -1}},
		{"engine=chan", Config{Engine: EngineChan}},
	} {
		b.Run(v.name, func(b *testing.B) {
			ts := benchServer(b, v.cfg)
			paths := make([]string, clients)
			for i := range paths {
				paths[i] = fmt.Sprintf("/events?topic=t%d", i)
			}
			r, wg := newRoundClients(b, ts, paths)
			// Round robin: client i's k-th event is op k*clients+i.
			b.ResetTimer()
			for i := range b.N {
				// Only this client's callback can match: the others get no
				// frame in this op.
				want := r.cs[i%clients].frames.Load() + 1
				r.round(b, ts, fmt.Sprintf("t%d", i%clients), want, 1)
			}
			b.StopTimer()
			r.close(wg)
		})
	}
}

// BenchmarkIdleStreamMemory opens idle streams and reports what each costs
// in heap and stack after a GC. Both ends are in this process: "pair" is
// the same count of bare TCP connections (accepted and held, no HTTP), so
// stream − pair is the server's cost of a stream.
func BenchmarkIdleStreamMemory(b *testing.B) {
	const n = 2000
	type mem struct{ heap, stack uint64 }
	measure := func() mem {
		runtime.GC()
		runtime.GC() // sync.Pool keeps a victim generation for one more cycle
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return mem{ms.HeapAlloc, ms.StackInuse}
	}
	report := func(b *testing.B, before, after mem) {
		heap, stack := float64(after.heap-before.heap)/n, float64(after.stack-before.stack)/n
		b.ReportMetric(heap+stack, "B/conn")
		b.ReportMetric(heap, "heap-B/conn")
		b.ReportMetric(stack, "stack-B/conn")
	}
	b.Run("pair", func(b *testing.B) {
		for range b.N {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			accepted := make(chan net.Conn, n)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						close(accepted)
						return
					}
					accepted <- c
				}
			}()
			before := measure()
			var conns []net.Conn
			for range n {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c, <-accepted)
			}
			report(b, before, measure())
			ln.Close()
			for _, c := range conns {
				c.Close()
			}
		}
	})
	for _, engine := range []Engine{EngineRing, EngineChan} {
		for _, path := range []string{"/events", "/events?topic=t"} {
			b.Run(fmt.Sprintf("engine=%s/path=%s", engine, path), func(b *testing.B) {
				for range b.N {
					ts := benchServer(b, Config{Engine: engine, KeepAlive: 100 * time.Millisecond})
					ts.publish(Event{Topic: "t"}) // the topic exists before the streams
					before := measure()
					conns := make([]net.Conn, n)
					for i := range conns {
						conns[i] = dialIdle(b, ts.addr, path)
					}
					waitFor(b, "streams", 30*time.Second, func() bool { return ts.nStreams.Load() == n })
					report(b, before, measure())
					for _, c := range conns {
						c.Close()
					}
					waitFor(b, "streams to go", 30*time.Second, func() bool { return ts.nStreams.Load() == 0 })
				}
			})
		}
	}
}

// dialIdle opens a stream and reads its head and first frame, then leaves
// the connection alone: no goroutine, no buffer on the client side.
func dialIdle(b *testing.B, addr, path string) net.Conn {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.0\r\nHost: bench\r\n\r\n"); err != nil {
		b.Fatal(err)
	}
	var buf [512]byte
	got := 0
	for !bytes.HasSuffix(buf[:got], []byte("retry: 3000\n\n")) {
		n, err := conn.Read(buf[got:])
		if err != nil {
			b.Fatal(err)
		}
		got += n
	}
	return conn
}

func windowName(bw time.Duration) string {
	switch bw {
	case NoBatchWindow:
		return "off"
	case 0:
		return "auto"
	}
	return bw.String()
}
