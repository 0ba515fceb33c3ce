package transport

// Cluster mode when a node's own NATS server goes away: three embedded
// nats-servers (startNATSCluster), a stream of 3 replicas led by n0, nodes A
// and C connected to n0 and B to n1; n0 is shut down. A's connection
// reconnects to a survivor, and its follower's consumer, which lived on n0,
// must be recreated on a survivor (docs/cluster.md, "Failure behaviour").
//
// Invariants checked (TestClusterOwnServerGoes):
//   O1. Once n0 is gone, a batch retried on A with the same
//       Idempotency-Key is answered 200 within a bound, at the seqs right
//       after what was stored before.
//   O2. A's follower applies that batch within a bound of its answer: it
//       resumes at last+1 on a survivor and never stands still for long.
//   O3. A client of A sees every event, before and after, exactly once and
//       in order (resuming with Last-Event-ID if its stream ended).
//   O4. A node whose server went away shuts down within a bound, even when
//       Shutdown is called while its follower is still recovering (C).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/ringcast/ringcast/internal/ssespec"
)

func TestClusterOwnServerGoes(t *testing.T) {
	const (
		batch    = 20
		failover = 6 * time.Second // O1: the bound on the publish after n0 went
		// O2: the follower's bound after the answer. A consumer create sent
		// while the cluster still elects leaders can go unanswered (1 s,
		// followRequestTimeout) more than once on a loaded machine; the
		// ordered consumer this guards against stood still 10 s or more.
		applyBy = 6 * time.Second
		stopBy  = 3 * time.Second // O4
	)
	srvs := startNATSCluster(t, 3)
	cfg := Config{NATSReplicas: 3, NATSPublishTimeout: time.Second, KeepAlive: time.Minute}
	a := startNodeOn(t, srvs[0].ClientURL(), cfg)
	_ = startNodeOn(t, srvs[1].ClientURL(), cfg)
	c := startNodeOn(t, srvs[0].ClientURL(), cfg)
	moveStreamLeader(t, srvs, 0)

	ca := dial(t, a.addr, "/events", dialOpt{})
	body, data := ndjsonBatch(batch, "before")
	ids, _ := publishRetried(t, a, body, "batch-1", time.Now(), failover)
	expectContiguous(t, ids, 1)
	var got []ssespec.Event
	got = readResuming(t, a, &ca, got, batch, 10*time.Second)

	// O1.
	srvs[0].Shutdown()
	srvs[0].WaitForShutdown()
	gone := time.Now()
	ids2, data2, answered := publishAfterFailover(t, a, srvs, batch, gone, failover, "n0 went")

	// O4, on C: shut down while its follower recovers (or has recovered).
	stopped := make(chan time.Duration, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		_ = c.Shutdown(ctx)
		stopped <- time.Since(start)
	}()

	// O2.
	last := seqOf(t, ids2[len(ids2)-1])
	waitFor(t, "A's follower to apply the batch published after n0 went", applyBy, func() bool {
		return a.cluster.f.applied.Load() >= last
	})
	t.Logf("A's follower applied the batch %v after its answer (%v after n0 went)", time.Since(answered), time.Since(gone))

	// O3.
	got = readResuming(t, a, &ca, got, 2*batch, 10*time.Second)
	want := append(append([]string(nil), ids...), ids2...)
	if fmt.Sprint(eventIDs(got)) != fmt.Sprint(want) {
		t.Fatalf("ids on A %q, want %q", eventIDs(got), want)
	}
	for i, ev := range got {
		if w := append(append([]string(nil), data...), data2...)[i]; ev.Data != w {
			t.Fatalf("event %d on A: %q, want %q", i, ev.Data, w)
		}
	}

	// O4.
	if d := <-stopped; d > stopBy {
		t.Fatalf("C's Shutdown took %v, want at most %v", d, stopBy)
	} else {
		t.Logf("C's Shutdown took %v", d)
	}
	shutdownNode(t, a, stopBy)
}

// readResuming reads from *c until got holds n events, redialling ts with
// the last id received whenever the stream ends, and returns got.
func readResuming(t *testing.T, ts *testServer, c **sseClient, got []ssespec.Event, n int, timeout time.Duration) []ssespec.Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(got) < n {
		cl := *c
		if len(cl.events) > 0 {
			got = append(got, cl.events...)
			cl.events = nil
			continue
		}
		if cl.eof {
			last := ""
			if len(got) > 0 {
				last = got[len(got)-1].LastEventID
			}
			t.Logf("the stream of %s ended after %d events; resuming from %q", ts.addr, len(got), last)
			*c = dial(t, ts.addr, "/events", dialOpt{lastID: last})
			continue
		}
		if err := cl.readEvents(deadline); err != nil {
			if !errors.Is(err, io.EOF) && !isConnReset(err) {
				t.Fatalf("read after %d of %d events: %v", len(got), n, err)
			}
			cl.eof = true
		}
	}
	if len(got) > n {
		t.Fatalf("%d events, want %d: %q", len(got), n, eventIDs(got))
	}
	return got
}
