package transport

// A client's replay from the log when a NATS server of the cluster goes
// away in the middle of it: three embedded nats-servers
// (startNATSCluster), a stream of 3 replicas led by n0, nodes A and C on
// n0 with rings of 64, and a backlog far larger than the client's socket
// buffers, so a client that reads a few events and then stops holds its
// replay in progress (its consumer has entries pending) until the test
// reads on. A replay reads one consumer of one replica (jetstream.go, JS3),
// which JetStream places on any of the stream's servers; after the initial
// create, the replay depends on that server alone (and on the node's
// connection). The server shut down is that one: either another than the
// node's own, which the node stays connected through ("consumer's
// server"), or the node's own, which also leads the stream ("own server":
// the node reconnects while the cluster elects a new leader).
//
// Invariants checked (TestClusterReplayServerGoes):
//   RP1. A's stream goes on, or ends, within a bound of the server going:
//       it never pauses longer (JS4).
//   RP2. Resuming with the last id it received whenever its stream ends,
//       A's client gets every event after its resume point exactly once and
//       in order, with no reset (JS3), within a bound.
//   RP3. C, whose client was mid-replay too, shuts down within a bound,
//       called while its replay fails or recovers (JS4).

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringcast/ringcast/internal/ssespec"
)

func TestClusterReplayServerGoes(t *testing.T) {
	for _, tc := range []struct {
		name string
		own  bool // the consumer on the node's own server, n0
	}{{"consumer's server", false}, {"own server", true}} {
		t.Run(tc.name, func(t *testing.T) { testReplayServerGoes(t, tc.own) })
	}
}

func testReplayServerGoes(t *testing.T, own bool) {
	const (
		events  = 5000
		batch   = 250
		payload = 1000
		pauseBy = 4 * time.Second  // RP1
		allBy   = 10 * time.Second // RP2: every event, the resumed replay's included
		stopBy  = 3 * time.Second  // RP3
	)
	srvs := startNATSCluster(t, 3)
	cfg := Config{Capacity: 64, NATSReplicas: 3, NATSPublishTimeout: 5 * time.Second, KeepAlive: time.Minute, WriteTimeout: time.Minute}
	a := startNodeOn(t, srvs[0].ClientURL(), cfg)
	c := startNodeOn(t, srvs[0].ClientURL(), cfg)
	moveStreamLeader(t, srvs, 0)

	pad := strings.Repeat("x", payload)
	var ids []string
	for i := 0; i < events; i += batch {
		evs := make([]Event, batch)
		for j := range evs {
			evs[j] = Event{Topic: "t" + strconv.Itoa((i+j)%3), Data: []byte(strconv.Itoa(i+j) + pad)}
		}
		pub, err := a.Publish(evs...)
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		ids = append(ids, pub...)
	}
	waitApplied(t, seqOf(t, ids[len(ids)-1]), a, c)
	// Everything after ids[0] is replayed: the rings hold the last 64.
	want := ids[1:]

	js := a.cluster.log.(*jetStreamLog).js
	seen := map[string]bool{}
	// The clients' receive buffers are fixed, so that what the server can
	// send ahead stays far below the backlog; not below a loopback
	// segment, or TCP stalls in zero-window probes once they read.
	const rcvBuf = 1 << 18
	// C's client, mid-replay like A's, wherever its consumer is.
	cc := dial(t, c.addr, "/events", dialOpt{lastID: ids[0], rcvBuf: rcvBuf})
	cc.next(10, 10*time.Second)
	ccons, _ := replayConsumer(t, js, seen)
	// A's client: redialled until its replay's consumer is where the case
	// wants it (JetStream draws a server at random).
	var ac *sseClient
	var got []ssespec.Event
	var host int
	var pending uint64
	for try := 1; ; try++ {
		ac = dial(t, a.addr, "/events", dialOpt{lastID: ids[0], rcvBuf: rcvBuf})
		got = ac.next(10, 10*time.Second)
		var name string
		name, host = replayConsumer(t, js, seen)
		if (host == 0) == own {
			ci, err := js.Consumer(context.Background(), "ringcast", name)
			if err != nil {
				t.Fatal(err)
			}
			pending = ci.CachedInfo().NumPending
			t.Logf("A's replay consumer %s on n%d after %d tries, %d entries pending; C's consumer %s", name, host, try, pending, ccons)
			break
		}
		ac.conn.Close()
		if try == 30 {
			t.Fatalf("A's replay consumer never on the server wanted (own %v) in %d tries", own, try)
		}
	}
	if pending == 0 {
		t.Fatal("A's replay is not in progress: nothing pending on its consumer")
	}
	got = append(got, ac.events...)
	ac.events = nil

	srvs[host].Shutdown()
	srvs[host].WaitForShutdown()
	gone := time.Now()
	// C's client reads on, so that C's replay meets the failure.
	_ = cc.conn.SetReadDeadline(time.Time{})
	drained := make(chan struct{})
	go func() { defer close(drained); _, _ = io.Copy(io.Discard, cc.br) }()

	// RP1: A's stream, until it ends or brought everything.
	var pause time.Duration
	last := gone
	for !ac.eof && len(got) < len(want) {
		err := ac.readEvents(gone.Add(30 * time.Second))
		if err != nil && !errors.Is(err, io.EOF) && !isConnReset(err) {
			t.Fatalf("A's stream after %d events: %v", len(got), err)
		}
		if len(ac.events) > 0 || err != nil {
			pause = max(pause, time.Since(last))
			last = time.Now()
			got = append(got, ac.events...)
			ac.events = nil
		}
		ac.eof = err != nil
	}
	t.Logf("A's stream: longest pause %v after n%d went; it %s after %d of %d events, %v after",
		pause, host, map[bool]string{true: "ended", false: "went on to the end"}[ac.eof], len(got), len(want), last.Sub(gone))
	if pause > pauseBy {
		t.Fatalf("A's stream paused %v after n%d went, want at most %v", pause, host, pauseBy)
	}

	// RP3.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatalf("C's Shutdown: %v", err)
	}
	stopped := time.Since(start)
	<-drained
	t.Logf("C's Shutdown took %v, called %v after n%d went", stopped, start.Sub(gone), host)
	if stopped > stopBy {
		t.Fatalf("C's Shutdown took %v, want at most %v", stopped, stopBy)
	}

	// RP2.
	got = readResuming(t, a, &ac, got, len(want), time.Until(gone.Add(allBy)))
	t.Logf("A's client had every event %v after n%d went", time.Since(gone), host)
	checkReplayed(t, got, want)
	ac.expectNothing(100 * time.Millisecond)
}

// replayConsumer waits for a replay's consumer not in seen, adds it, and
// returns its name and the index of the server that holds it.
func replayConsumer(t *testing.T, js jetstream.JetStream, seen map[string]bool) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "ringcast")
	if err != nil {
		t.Fatal(err)
	}
	var name, leader string
	waitFor(t, "a replay's consumer", 10*time.Second, func() bool {
		for ci := range st.ListConsumers(ctx).Info() {
			if strings.HasPrefix(ci.Name, "ringcast-replay-") && !seen[ci.Name] && ci.Cluster != nil && ci.Cluster.Leader != "" {
				name, leader = ci.Name, ci.Cluster.Leader
				return true
			}
		}
		return false
	})
	seen[name] = true
	i, err := strconv.Atoi(strings.TrimPrefix(leader, "n"))
	if err != nil {
		t.Fatalf("consumer %s on %q: %v", name, leader, err)
	}
	return name, i
}

// checkReplayed fails unless got is the events of want, once each, in
// order, and no notice.
func checkReplayed(t *testing.T, got []ssespec.Event, want []string) {
	t.Helper()
	for i, ev := range got {
		if ev.Type != "message" {
			t.Fatalf("event %d: a %q (%q), want none", i, ev.Type, ev.Data)
		}
		if i >= len(want) || ev.LastEventID != want[i] {
			t.Fatalf("event %d: id %q, want %q (%d events, want %d)", i, ev.LastEventID, want[min(i, len(want)-1)], len(got), len(want))
		}
		if !strings.HasPrefix(ev.Data, strconv.Itoa(i+1)+"x") {
			t.Fatalf("event %d: data %.20q…, want %d", i, ev.Data, i+1)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
}

// TestClusterReplayFetchOutlivesWake: the stream's wake (a keep-alive due)
// that fires while a replay's fetch is in flight does not cut the fetch
// short: what it carries is delivered and the replay goes on without a gap,
// so the client is not sent away for nothing (JS4).
func TestClusterReplayFetchOutlivesWake(t *testing.T) {
	n := startNATS(t)
	a := startNode(t, n, Config{})
	a.publishN("w", 50, "")
	l := a.cluster.log.(*jetStreamLog)
	rp, err := l.replay(context.Background(), 1, []string{"w"})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.close()
	wake, fire := context.WithCancel(context.Background())
	l.testHookFetched = fire // the wake fires once the fetch is sent
	got, done, err := rp.next(wake, 20)
	l.testHookFetched = nil
	if err != nil || done || len(got) != 20 || got[0].seq != 1 || got[19].seq != 20 {
		t.Fatalf("the fetch the wake fired during: %d entries, done %v, %v; want seqs 1..20", len(got), done, err)
	}
	// A wake that has fired already: no fetch is sent, and nothing is lost.
	if got, _, err := rp.next(wake, 20); !errors.Is(err, context.Canceled) || len(got) != 0 {
		t.Fatalf("next with a fired wake: %d entries, %v; want none and context.Canceled", len(got), err)
	}
	rest, done, err := rp.next(context.Background(), 100)
	if err != nil || !done || len(rest) != 30 || rest[0].seq != 21 || rest[29].seq != 50 {
		t.Fatalf("the rest: %d entries, done %v, %v; want seqs 21..50", len(rest), done, err)
	}
}
