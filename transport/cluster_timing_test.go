package transport

// Cluster mode's costs against a single node in the same run (go test
// -run '^$' -bench Cluster -benchtime 3x ./transport/). Each benchmark
// starts its own embedded nats-server with a file store.

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// benchNATS is startNATS for a benchmark.
func benchNATS(b *testing.B) *testNATS {
	n := &testNATS{tb: b, dir: b.TempDir(), addr: "127.0.0.1:0"}
	n.start()
	b.Cleanup(n.stop)
	return n
}

func benchNode(b *testing.B, n *testNATS, cfg Config) *testServer {
	b.Helper()
	cfg.NATSURL = n.url
	ts := startServer(b, cfg)
	waitFor(b, "ready", time.Minute, func() bool { return ts.cluster.f.ready.Load() })
	return ts
}

func batchOf(n int, size int) []Event {
	evs := make([]Event, n)
	data := make([]byte, size)
	for i := range data {
		data[i] = 'x'
	}
	for i := range evs {
		evs[i] = Event{Topic: "t" + strconv.Itoa(i%8), Data: data}
	}
	return evs
}

// BenchmarkClusterPublish: 100-event batches of 128 B from one publisher,
// from Publish until the events are in the node's ring: on one node, and
// through the log with atomic and with pipelined batches.
func BenchmarkClusterPublish(b *testing.B) {
	const batch = 100
	run := func(b *testing.B, ts *testServer, applied func() uint64) {
		evs := batchOf(batch, 128)
		b.ResetTimer()
		start := time.Now()
		var last uint64
		for range b.N {
			for range 100 {
				ids, err := ts.Publish(evs...)
				if err != nil {
					b.Fatal(err)
				}
				last = seqOf(b, ids[len(ids)-1])
			}
		}
		waitFor(b, "applied", time.Minute, func() bool { return applied() >= last })
		b.ReportMetric(float64(b.N*100*batch)/time.Since(start).Seconds(), "events/s")
	}
	b.Run("single", func(b *testing.B) {
		ts := startServer(b, Config{})
		run(b, ts, func() uint64 { return ts.eng.(*ringEngine).cursorSeq() })
	})
	b.Run("cluster-atomic", func(b *testing.B) {
		ts := benchNode(b, benchNATS(b), Config{})
		run(b, ts, func() uint64 { return ts.cluster.f.applied.Load() })
	})
	b.Run("cluster-pipelined", func(b *testing.B) {
		ts := benchNode(b, benchNATS(b), Config{NATSPipelinedBatches: true})
		run(b, ts, func() uint64 { return ts.cluster.f.applied.Load() })
	})
}

// BenchmarkClusterPrefill: a node's start with 65,536 events to prefill,
// until /healthz says ok.
func BenchmarkClusterPrefill(b *testing.B) {
	n := benchNATS(b)
	seed := benchNode(b, n, Config{})
	evs := batchOf(1000, 128)
	for range 66 {
		if _, err := seed.Publish(evs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		ts := benchNode(b, n, Config{Capacity: 1 << 16})
		b.ReportMetric(time.Since(start).Seconds(), "s/ready")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = ts.Shutdown(ctx)
		cancel()
	}
}

// BenchmarkClusterReplay: one client resumes 50,000 events back on a node
// whose ring holds 64: the replay from the log until the last event.
func BenchmarkClusterReplay(b *testing.B) {
	n := benchNATS(b)
	ts := benchNode(b, n, Config{Capacity: 64})
	evs := batchOf(1000, 128)
	var first, last string
	for i := range 51 {
		ids, err := ts.Publish(evs...)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			first = ids[len(ids)-1]
		}
		last = ids[len(ids)-1]
	}
	waitFor(b, "applied", time.Minute, func() bool { return ts.cluster.f.applied.Load() >= seqOf(b, last) })
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		c := dial(b, ts.addr, "/events", dialOpt{lastID: first})
		c.next(50_000, time.Minute)
		b.ReportMetric(50_000/time.Since(start).Seconds(), "events/s")
		c.conn.Close()
	}
}
