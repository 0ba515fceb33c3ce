package transport

// Cluster mode on a 3-server NATS cluster: three embedded nats-servers with
// JetStream, clustered over routes on 127.0.0.1, a stream of 3 replicas,
// and ringcast nodes connected to different servers. What production runs
// (docs/cluster.md: "a 3-server cluster for no single point of failure").
//
// Invariants checked (TestClusterNATS3):
//   N1. An atomic batch published on node A arrives on node B with the same
//       ids and bytes as on A, at contiguous seqs.
//   N2. Once the server that leads the stream is shut down, a publish
//       retried with the same Idempotency-Key is answered 200 within a
//       bound, after a new leader is elected, at the seqs right after what
//       was stored before: nothing stored twice.
//   N3. A stream open on a node whose NATS server survived does not end,
//       and delivers every event published, before and after the failover,
//       exactly once and in order.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startNATSCluster starts size nats-servers with JetStream, clustered over
// routes on 127.0.0.1, each with its store in a TempDir, and returns once
// their JetStream has a meta leader that sees them all. They are shut down
// when the test ends.
func startNATSCluster(tb testing.TB, size int) []*server.Server {
	srvs, _ := startNATSClusterWith(tb, size, -1)
	return srvs
}

// startNATSClusterWith is startNATSCluster with server child (none when
// -1) run in a child process that the test can kill (natsChild,
// cluster_crash_test.go); srvs[child] is nil.
func startNATSClusterWith(tb testing.TB, size, child int) ([]*server.Server, *natsChild) {
	tb.Helper()
	// JetStream clustering wants every server's routes configured before it
	// starts, so the route ports are picked first: free ones the kernel
	// hands out, released just before the servers take them.
	var ls []net.Listener
	var routes []*url.URL
	for range size {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, l)
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: l.Addr().String()})
	}
	for _, l := range ls {
		l.Close()
	}
	srvs := make([]*server.Server, size)
	var ch *natsChild
	for i := range srvs {
		if i == child {
			ch = startNATSChild(tb, i, tb.TempDir(), routes)
			continue
		}
		s, err := server.NewServer(natsClusterOptions(i, tb.TempDir(), routes))
		if err != nil {
			tb.Fatal(err)
		}
		s.Start()
		srvs[i] = s
		tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	for _, s := range srvs {
		if s != nil && !s.ReadyForConnections(10*time.Second) {
			tb.Fatalf("nats-server %s not ready within 10s", s.Name())
		}
	}
	// A leader alone is not enough: a stream of 3 replicas is refused
	// ("no suitable peers") until the leader has heard from every server.
	// Only the leader can tell (JetStreamClusterPeers); a child is asked.
	waitFor(tb, "a JetStream meta leader that sees every server", 20*time.Second, func() bool {
		for _, s := range srvs {
			if s != nil && s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == size {
				return true
			}
		}
		return ch != nil && ch.metaPeers(tb) == size
	})
	return srvs, ch
}

// natsClusterOptions are the options of server i of a cluster whose route
// URLs are routes, with its store in dir: the same in the test process and
// in a child process (natsChild).
func natsClusterOptions(i int, dir string, routes []*url.URL) *server.Options {
	port, _ := strconv.Atoi(routes[i].Port())
	return &server.Options{
		ServerName: "n" + strconv.Itoa(i),
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   dir,
		Cluster:    server.ClusterOpts{Name: "ringcast-test", Host: "127.0.0.1", Port: port},
		Routes:     routes,
		NoLog:      true,
		NoSigs:     true,
	}
}

// streamLeader returns the index of the server that leads the stream
// "ringcast", or -1. A server in a child process (nil in srvs) cannot be
// asked: it leads when none of the others does and every other one running
// names it as the leader.
func streamLeader(srvs []*server.Server) int {
	for i, s := range srvs {
		if s != nil && s.Running() && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, "ringcast") {
			return i
		}
	}
	named := -1
	for _, s := range srvs {
		if s == nil || !s.Running() {
			continue
		}
		if l := streamLeaderSeenBy(s); l < 0 || named >= 0 && l != named {
			return -1
		} else {
			named = l
		}
	}
	if named >= 0 && srvs[named] == nil {
		return named
	}
	return -1
}

// streamLeaderSeenBy returns the index of the server that s names as the
// leader of the stream "ringcast", or -1.
func streamLeaderSeenBy(s *server.Server) int {
	ad, err := s.JszAccount(&server.JSzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Streams: true})
	if err != nil {
		return -1
	}
	for _, sd := range ad.Streams {
		if sd.Name == "ringcast" && sd.Cluster != nil {
			if i, err := strconv.Atoi(strings.TrimPrefix(sd.Cluster.Leader, "n")); err == nil {
				return i
			}
		}
	}
	return -1
}

// moveStreamLeader steps the stream's leader down until server to leads it.
func moveStreamLeader(t *testing.T, srvs []*server.Server, to int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the stream's leader on n%d", to), 10*time.Second, func() bool {
		l := streamLeader(srvs)
		if l >= 0 && l != to && srvs[l] != nil {
			_ = srvs[l].JetStreamStepdownStream(server.DEFAULT_GLOBAL_ACCOUNT, "ringcast")
		}
		return l == to
	})
}

// ndjsonBatch is a POST /publish body of n events, data "<prefix><i>", on
// topics t0 to t2, and the data it carries.
func ndjsonBatch(n int, prefix string) (string, []string) {
	var b strings.Builder
	data := make([]string, n)
	for i := range n {
		data[i] = prefix + strconv.Itoa(i)
		fmt.Fprintf(&b, `{"topic":"t%d","data":%q}`+"\n", i%3, data[i])
	}
	return b.String(), data
}

// publishRetried POSTs an NDJSON batch on ts with an Idempotency-Key, again
// after each 503 (the answer that says a retry with the key is safe), until
// it is answered 200 or bound has passed since start. It returns the ids
// and the number of 503s.
func publishRetried(t *testing.T, ts *testServer, body, key string, start time.Time, bound time.Duration) ([]string, int) {
	t.Helper()
	for refusals := 0; ; refusals++ {
		code, answer := ts.post("application/x-ndjson", body, "Idempotency-Key", key)
		if code == 200 {
			var a struct{ IDs []string }
			if err := json.Unmarshal([]byte(answer), &a); err != nil {
				t.Fatalf("publish answer %q: %v", answer, err)
			}
			return a.IDs, refusals
		}
		if code != 503 {
			t.Fatalf("publish: %d %s, want 200 or 503", code, answer)
		}
		if time.Since(start) > bound {
			t.Fatalf("publish not answered 200 within %v (%d refusals, the last: %s)", bound, refusals+1, answer)
		}
	}
}

// publishAfterFailover publishes the second batch of a failover test on ts
// (batch events "after<i>", one NDJSON batch under the key "batch-2"),
// retried until answered 200 within bound of gone, checks that it follows
// the first batch's seqs (nothing stored twice), and logs how long it took
// after what happened at gone. It returns the ids, the events' data and
// when it was answered.
func publishAfterFailover(t *testing.T, ts *testServer, srvs []*server.Server, batch int, gone time.Time, bound time.Duration, what string) ([]string, []string, time.Time) {
	t.Helper()
	body, data := ndjsonBatch(batch, "after")
	ids, refusals := publishRetried(t, ts, body, "batch-2", gone, bound)
	answered := time.Now()
	expectContiguous(t, ids, uint64(batch)+1)
	t.Logf("publish answered 200 %v after %s, after %d refusals (503); new leader n%d",
		answered.Sub(gone), what, refusals, streamLeader(srvs))
	return ids, data, answered
}

// expectContiguous fails unless ids' seqs are from, from+1, ...
func expectContiguous(t *testing.T, ids []string, from uint64) {
	t.Helper()
	for i, id := range ids {
		if seqOf(t, id) != from+uint64(i) {
			t.Fatalf("ids %q: seq %d at %d, want contiguous seqs from %d", ids, seqOf(t, id), i, from)
		}
	}
}

// TestClusterNATS3: N1 to N3. Node A is on server n0, node B on n1, and
// the stream's leader is moved to n2 (stepped down until it is there), so
// that shutting it down leaves both nodes' servers up. The shutdown is
// nats-server's Shutdown, which steps its raft leaders down first.
func TestClusterNATS3(t *testing.T) {
	const (
		batch    = 20
		failover = 6 * time.Second // the bound on a publish, and on its delivery, after the leader went
	)
	srvs := startNATSCluster(t, 3)
	// No keep-alive within the test: the two streams' bytes are compared,
	// and each node writes keep-alives on its own clock.
	cfg := Config{NATSReplicas: 3, NATSPublishTimeout: time.Second, KeepAlive: time.Minute}
	a := startNodeOn(t, srvs[0].ClientURL(), cfg)
	b := startNodeOn(t, srvs[1].ClientURL(), cfg)
	moveStreamLeader(t, srvs, 2)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := a.cluster.log.(*jetStreamLog).js.Stream(ctx, "ringcast")
	if err != nil {
		t.Fatal(err)
	}
	if si := st.CachedInfo(); si.Config.Replicas != 3 || si.Cluster == nil || len(si.Cluster.Replicas) != 2 {
		t.Fatalf("the stream: replicas %d, cluster %+v; want 3 replicas", si.Config.Replicas, si.Cluster)
	}
	// Where the followers' consumers are: one on the server that goes
	// stands still until its client misses two heartbeats.
	for name := range st.ConsumerNames(ctx).Name() {
		if ci, err := st.Consumer(ctx, name); err == nil {
			t.Logf("follower consumer %s on %s", name, ci.CachedInfo().Cluster.Leader)
		}
	}

	// N1.
	ca, cb := dial(t, a.addr, "/events", dialOpt{}), dial(t, b.addr, "/events", dialOpt{})
	body, data := ndjsonBatch(batch, "before")
	// Retried: just after the leader moved, its subscription may not have
	// reached n0 yet ("no responders").
	ids, _ := publishRetried(t, a, body, "batch-1", time.Now(), failover)
	expectContiguous(t, ids, 1)
	evA, evB := ca.next(batch, 10*time.Second), cb.next(batch, 10*time.Second)
	if got := eventIDs(evB); fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("ids on B %q, want %q", got, ids)
	}
	for i, ev := range evB {
		if ev.Data != data[i] {
			t.Fatalf("event %d on B: %q, want %q", i, ev.Data, data[i])
		}
	}
	if fmt.Sprint(evA) != fmt.Sprint(evB) || ca.raw.String() != cb.raw.String() {
		t.Fatalf("bytes differ:\nA %q\nB %q", ca.raw.String(), cb.raw.String())
	}

	// N2: the leader goes; the next batch is retried on A with its key
	// until it is answered 200.
	srvs[2].Shutdown()
	srvs[2].WaitForShutdown()
	gone := time.Now()
	ids2, data2, _ := publishAfterFailover(t, a, srvs, batch, gone, failover, "the leader went")

	// N3: both streams saw the failover through: everything once, in
	// order, then an end marker right after. B's connection may still be
	// settling after the failover (a publish there was seen answered "no
	// response from stream" once): the marker is retried under its key too.
	endBody, _ := ndjsonBatch(1, "end")
	end, _ := publishRetried(t, b, endBody, "end-marker", gone, failover)
	want := fmt.Sprint(append(ids2, end...))
	for _, c := range []struct {
		node string
		c    *sseClient
	}{{"A", ca}, {"B", cb}} {
		evs := c.c.next(batch+1, time.Until(gone.Add(failover)))
		if got := eventIDs(evs); fmt.Sprint(got) != want {
			t.Fatalf("ids on %s after the failover %q, want %s", c.node, got, want)
		}
		for i, ev := range evs[:batch] {
			if ev.Data != data2[i] {
				t.Fatalf("event %d on %s after the failover: %q, want %q", i, c.node, ev.Data, data2[i])
			}
		}
		c.c.expectNothing(100 * time.Millisecond)
		t.Logf("%s had every event %v after the leader went", c.node, time.Since(gone))
	}
	if ca.raw.String() != cb.raw.String() {
		t.Fatalf("bytes differ:\nA %q\nB %q", ca.raw.String(), cb.raw.String())
	}
	if seqOf(t, end[0]) != 2*batch+1 {
		t.Fatalf("end marker at seq %d, want %d: something was stored twice", seqOf(t, end[0]), 2*batch+1)
	}
}

// BenchmarkClusterNATS3Publish: 100-event atomic batches of 128 B from one
// publisher, from Publish until the events are in the node's ring, into a
// stream of 1 and of 3 replicas on the same kind of 3-server cluster (the
// node on n0; the stream's leader wherever JetStream put it). nats-server
// stages an atomic batch in a synced file store of its own on R1 and in
// memory on R3 (docs/cluster.md). Not a figure unless run on a quiet
// machine: go test -run '^$' -bench ClusterNATS3 -benchtime 3x ./transport/
func BenchmarkClusterNATS3Publish(b *testing.B) {
	const batch, batches = 100, 100 // batches per iteration
	for _, replicas := range []int{1, 3} {
		b.Run("R"+strconv.Itoa(replicas), func(b *testing.B) {
			srvs := startNATSCluster(b, 3)
			ts := startNodeOn(b, srvs[0].ClientURL(), Config{NATSReplicas: replicas})
			evs := batchOf(batch, 128)
			var ids []string
			var err error
			b.ResetTimer()
			start := time.Now()
			for n := 0; n < b.N*batches; n++ {
				if ids, err = ts.Publish(evs...); err != nil {
					b.Fatal(err)
				}
			}
			last := seqOf(b, ids[len(ids)-1])
			waitFor(b, "the batches in the ring", time.Minute, func() bool { return ts.cluster.f.applied.Load() >= last })
			b.ReportMetric(float64(b.N*batches*batch)/time.Since(start).Seconds(), "events/s")
		})
	}
}
