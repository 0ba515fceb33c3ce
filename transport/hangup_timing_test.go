//go:build linux

package transport

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// BenchmarkDepartures: 1,000 idle streams whose clients close at once; it
// reports how long until the server's connections, streams, goroutines and
// descriptors are back to their baseline (release-ms), and, for scale, how
// long opening them took (open-ms). "watcher" is the hang-up watcher;
// "peek" is the fallback without it, with a keep-alive of 1s (15s by
// default), in the same run.
func BenchmarkDepartures(b *testing.B) {
	const n = 1000
	for _, mode := range []string{"watcher", "peek"} {
		b.Run(mode, func(b *testing.B) {
			var openT, releaseT time.Duration
			for range b.N {
				ts := startServer(b, Config{KeepAlive: time.Second, Logger: testLogger()}, func(s *Server) {
					s.testNoHangupWatch = mode == "peek"
				})
				warm := dialIdle(b, ts.addr, "/events")
				warm.Close()
				waitFor(b, "the first stream to go", 10*time.Second, func() bool { return ts.nStreams.Load() == 0 })
				baseG, baseFD := runtime.NumGoroutine(), openFDs(b)
				t0 := time.Now()
				conns := make([]net.Conn, n)
				for i := range conns {
					conns[i] = dialIdle(b, ts.addr, "/events")
				}
				waitFor(b, "streams", 30*time.Second, func() bool { return ts.nStreams.Load() == n })
				t1 := time.Now()
				for _, c := range conns {
					c.Close()
				}
				for ts.guard.openConns() > 0 || ts.nStreams.Load() > 0 || runtime.NumGoroutine() > baseG || openFDs(b) > baseFD {
					if time.Since(t1) > 30*time.Second {
						b.Fatal("not back to baseline in 30s")
					}
					time.Sleep(time.Millisecond)
				}
				releaseT += time.Since(t1)
				openT += t1.Sub(t0)
			}
			b.ReportMetric(float64(openT.Microseconds())/1e3/float64(b.N), "open-ms")
			b.ReportMetric(float64(releaseT.Microseconds())/1e3/float64(b.N), "release-ms")
		})
	}
}

// BenchmarkPerIPSlotFreed: with MaxConnsPerIP 4, four streams close; it
// reports how long until a fifth from the same address is accepted
// (accept-ms), and, for scale, how long the fifth's own request took once
// the slots were free (request-ms).
func BenchmarkPerIPSlotFreed(b *testing.B) {
	ts := startServer(b, Config{MaxConnsPerIP: 4, KeepAlive: longKeepAlive, Logger: testLogger()})
	var acceptT, requestT time.Duration
	for range b.N {
		var conns []net.Conn
		for range 4 {
			conns = append(conns, dialIdle(b, ts.addr, "/events"))
		}
		t0 := time.Now()
		for _, c := range conns {
			c.Close()
		}
		for ts.guard.openConns() > 0 {
			time.Sleep(100 * time.Microsecond)
		}
		t1 := time.Now()
		fifth := dialIdle(b, ts.addr, "/events") // fails the benchmark unless admitted
		acceptT += time.Since(t0)
		requestT += time.Since(t1)
		fifth.Close()
		waitFor(b, "the fifth to go", 10*time.Second, func() bool { return ts.guard.openConns() == 0 })
	}
	b.ReportMetric(float64(acceptT.Microseconds())/1e3/float64(b.N), "accept-ms")
	b.ReportMetric(float64(requestT.Microseconds())/1e3/float64(b.N), "request-ms")
}
