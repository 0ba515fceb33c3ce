package transport

// Cluster mode when a NATS server crashes: the process is killed
// (SIGKILL), so nothing is stepped down first, unlike nats-server's
// Shutdown in TestClusterNATS3 and TestClusterOwnServerGoes. The stream's
// raft group elects a new leader only after its election timeout, the
// killed server's clients see their socket closed, and the consumers on it
// stop without a word.
//
// The killed server runs in a child process: the test binary itself,
// re-executed with natsChildEnv set, whose TestMain (helpers_test.go) runs
// one nats-server of the cluster (runNATSChild) and no test. The other two
// stay embedded in the test process (startNATSClusterWith).
//
// Invariants checked (TestClusterNATSCrash), node A on the embedded n0
// with its follower's consumer on n2, node B on the child n2 (with n0's
// and n1's URLs to fail over to), the stream of 3 replicas led by n2:
//   X1. Once n2 is killed, a batch retried on A with the same
//       Idempotency-Key is answered 200 within a bound, at the seqs right
//       after what was stored before: nothing stored twice.
//   X2. B reconnects to a survivor, and both followers apply that batch
//       (A's learns that its consumer stopped from missing heartbeats),
//       within a bound of the kill.
//   X3. A client of A and a client of B each get both batches exactly once
//       and in order (resuming with Last-Event-ID if the stream ends).
//   X4. /healthz of both nodes is 200 "ok" again within a bound, and both
//       nodes shut down within a bound.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ringcast/ringcast/internal/ssespec"
)

// natsChildEnv, set in a child process's environment, makes TestMain run
// a nats-server (runNATSChild) instead of the tests; its value is a
// natsChildSpec in JSON.
const natsChildEnv = "RINGCAST_TEST_NATS_CHILD"

// natsChildSpec is what a child needs to be server Index of a cluster.
type natsChildSpec struct {
	Index    int
	StoreDir string
	Routes   []string
}

// runNATSChild runs the nats-server spec describes, writes its client URL
// on a line of stdout once it is ready, and then answers each line of
// stdin with a line: how many servers its JetStream meta group sees, 0
// unless it leads the group (the parent cannot ask it otherwise, and
// startNATSClusterWith waits for a leader that sees every server). It runs
// until its stdin ends (the parent closed it, or is gone) or it is killed,
// and returns the exit code.
func runNATSChild(spec string) int {
	var c natsChildSpec
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", natsChildEnv, err)
		return 2
	}
	routes := make([]*url.URL, len(c.Routes))
	for i, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: route %q: %v\n", natsChildEnv, r, err)
			return 2
		}
		routes[i] = u
	}
	s, err := server.NewServer(natsClusterOptions(c.Index, c.StoreDir, routes))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", natsChildEnv, err)
		return 1
	}
	s.Start()
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	if !s.ReadyForConnections(10 * time.Second) {
		fmt.Fprintf(os.Stderr, "%s: nats-server %s not ready within 10s\n", natsChildEnv, s.Name())
		return 1
	}
	fmt.Println(s.ClientURL())
	for in := bufio.NewScanner(os.Stdin); in.Scan(); {
		peers := 0
		if s.JetStreamIsLeader() {
			peers = len(s.JetStreamClusterPeers())
		}
		fmt.Println(peers)
	}
	return 0
}

// natsChild is a nats-server of a cluster in a child process.
type natsChild struct {
	url  string // its client URL
	cmd  *exec.Cmd
	in   io.Writer
	out  *os.File
	br   *bufio.Reader
	once sync.Once
	err  error // what Wait returned
}

// startNATSChild starts server i of the cluster whose route URLs are
// routes in a child process, with its store in dir, and returns once it
// accepts clients. The child is killed and reaped when the test ends, if
// the test has not killed it before.
func startNATSChild(tb testing.TB, i int, dir string, routes []*url.URL) *natsChild {
	tb.Helper()
	spec := natsChildSpec{Index: i, StoreDir: dir}
	for _, r := range routes {
		spec.Routes = append(spec.Routes, r.String())
	}
	b, err := json.Marshal(spec)
	if err != nil {
		tb.Fatal(err)
	}
	c := &natsChild{cmd: exec.Command(os.Args[0])}
	c.cmd.Env = append(os.Environ(), natsChildEnv+"="+string(b))
	c.cmd.Stderr = os.Stderr
	// The child runs until its stdin ends: if this process dies without
	// its cleanups, the child goes too.
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	// os/exec's pipes are *os.File, which take a read deadline: a child
	// that does not answer fails the test instead of hanging it.
	c.out, c.br = out.(*os.File), bufio.NewReader(out)
	if err := c.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.kill)
	c.url = c.readLine(tb, 20*time.Second)
	return c
}

// readLine reads a line the child writes within timeout.
func (c *natsChild) readLine(tb testing.TB, timeout time.Duration) string {
	tb.Helper()
	_ = c.out.SetReadDeadline(time.Now().Add(timeout))
	line, err := c.br.ReadString('\n')
	if err != nil {
		c.kill()
		tb.Fatalf("nats-server in a child process: %v (got %q; the child: %v)", err, line, c.err)
	}
	return strings.TrimSpace(line)
}

// metaPeers returns how many servers the child's JetStream meta group
// sees, 0 unless it leads it.
func (c *natsChild) metaPeers(tb testing.TB) int {
	tb.Helper()
	if _, err := io.WriteString(c.in, "meta\n"); err != nil {
		tb.Fatalf("nats-server in a child process: %v", err)
	}
	n, err := strconv.Atoi(c.readLine(tb, 5*time.Second))
	if err != nil {
		tb.Fatalf("nats-server in a child process: %v", err)
	}
	return n
}

// kill kills the child (SIGKILL) and waits for it, once.
func (c *natsChild) kill() {
	c.once.Do(func() {
		_ = c.cmd.Process.Kill()
		c.err = c.cmd.Wait()
	})
}

// TestClusterNATSCrash: X1 to X4.
func TestClusterNATSCrash(t *testing.T) {
	const (
		batch = 20
		// X1, from the kill: the survivors elect a leader once raft's
		// election timeout (random, at most maxElectionTimeout in
		// nats-server's raft.go) has passed since the last heartbeat they
		// had from n2, plus a campaign, plus one publish timeout.
		publishBy = 12 * time.Second
		// X2, from the kill: B's socket closes with the process and nats.go
		// goes straight to another URL.
		reconnectBy = 2 * time.Second
		// X2, from the kill: a follower's consumer is created through the
		// meta leader, elected like the stream's when n2 led it too, and a
		// create request sent before the election may go unanswered for
		// followRequestTimeout.
		applyBy = publishBy + 2*time.Second
		allBy   = 2 * time.Second // X3: after the followers applied
		// X4, after the followers applied: the node's monitor reads the
		// stream's bounds once a second, each read waiting a second at most.
		healthyBy = 3 * time.Second
		stopBy    = 3 * time.Second // X4
	)
	srvs, child := startNATSClusterWith(t, 3, 2)
	cfg := Config{NATSReplicas: 3, NATSPublishTimeout: time.Second, KeepAlive: time.Minute}
	// A's follower's consumer is on the child, so that A, whose own
	// server survives, must notice that it stopped (missing heartbeats);
	// JetStream places it on any server, so A is started again until it is.
	a := startNodeOn(t, srvs[0].ClientURL(), cfg)
	for try := 1; followerServer(t, a) != "n2"; try++ {
		if try == 30 {
			t.Fatalf("A's follower's consumer never on the child n2 in %d starts", try)
		}
		shutdownNode(t, a, stopBy)
		a = startNodeOn(t, srvs[0].ClientURL(), cfg)
	}
	// B is connected to the child; nats.go shuffles the URLs it is given,
	// so B is started again until it is.
	urls := strings.Join([]string{child.url, srvs[0].ClientURL(), srvs[1].ClientURL()}, ",")
	b := startNodeOn(t, urls, cfg)
	for try := 1; nodeConn(b).ConnectedUrl() != child.url; try++ {
		if try == 30 {
			t.Fatalf("B never connected to the child n2 (%s) in %d starts", child.url, try)
		}
		shutdownNode(t, b, stopBy)
		b = startNodeOn(t, urls, cfg)
	}
	t.Logf("B's follower's consumer on %s", followerServer(t, b))
	moveStreamLeader(t, srvs, 2)

	ca, cb := dial(t, a.addr, "/events", dialOpt{}), dial(t, b.addr, "/events", dialOpt{})
	body, data := ndjsonBatch(batch, "before")
	ids, _ := publishRetried(t, a, body, "batch-1", time.Now(), publishBy)
	expectContiguous(t, ids, 1)
	var gotA, gotB []ssespec.Event
	gotA = readResuming(t, a, &ca, gotA, batch, 10*time.Second)
	gotB = readResuming(t, b, &cb, gotB, batch, 10*time.Second)

	// X1.
	metaLed := child.metaPeers(t) > 0
	child.kill()
	gone := time.Now()
	t.Logf("n2 killed (%v); it led the stream (and the meta group: %v)", child.err, metaLed)
	// X2: B's connection first, which does not wait for an election.
	waitFor(t, "B connected to a survivor", reconnectBy, func() bool {
		nc := nodeConn(b)
		return nc.IsConnected() && nc.ConnectedUrl() != child.url
	})
	t.Logf("B connected to %s %v after n2 was killed", nodeConn(b).ConnectedUrl(), time.Since(gone))
	ids2, data2, answered := publishAfterFailover(t, a, srvs, batch, gone, publishBy, "n2 was killed")

	// X2: the followers.
	last := seqOf(t, ids2[len(ids2)-1])
	for _, n := range []struct {
		name string
		ts   *testServer
	}{{"B", b}, {"A", a}} {
		waitFor(t, n.name+"'s follower to apply the batch published after n2 was killed", time.Until(gone.Add(applyBy)), func() bool {
			return n.ts.cluster.f.applied.Load() >= last
		})
		t.Logf("%s's follower applied the batch %v after A's answer", n.name, time.Since(answered))
	}
	applied := time.Now()

	// X3.
	want := append(append([]string(nil), ids...), ids2...)
	wantData := append(append([]string(nil), data...), data2...)
	for _, n := range []struct {
		name string
		ts   *testServer
		c    **sseClient
		got  []ssespec.Event
	}{{"A", a, &ca, gotA}, {"B", b, &cb, gotB}} {
		got := readResuming(t, n.ts, n.c, n.got, 2*batch, time.Until(applied.Add(allBy)))
		if fmt.Sprint(eventIDs(got)) != fmt.Sprint(want) {
			t.Fatalf("ids on %s %q, want %q", n.name, eventIDs(got), want)
		}
		for i, ev := range got {
			if ev.Data != wantData[i] {
				t.Fatalf("event %d on %s: %q, want %q", i, n.name, ev.Data, wantData[i])
			}
		}
		t.Logf("%s's client had every event %v after n2 was killed", n.name, time.Since(gone))
	}

	// X4.
	for _, n := range []struct {
		name string
		ts   *testServer
	}{{"A", a}, {"B", b}} {
		var h clusterHealth
		waitFor(t, n.name+"'s /healthz to be 200 ok", time.Until(applied.Add(healthyBy)), func() bool {
			h = readHealth(t, n.ts)
			return h.code == 200 && h.Status == "ok" && h.Log.Applied == last
		})
		t.Logf("%s's /healthz 200 ok %v after n2 was killed: %+v", n.name, time.Since(gone), h.Log)
	}
	shutdownNode(t, a, stopBy)
	shutdownNode(t, b, stopBy)
}

// nodeConn is a cluster node's NATS connection.
func nodeConn(ts *testServer) interface {
	ConnectedUrl() string
	IsConnected() bool
} {
	return ts.cluster.log.(*jetStreamLog).nc
}

// shutdownNode shuts ts down, failing the test if that takes longer than
// bound.
func shutdownNode(t *testing.T, ts *testServer, bound time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > bound {
		t.Fatalf("Shutdown took %v, want at most %v", d, bound)
	} else {
		t.Logf("Shutdown of %s took %v", ts.addr, d)
	}
}

// followerServer returns the name of the server that holds ts's
// follower's consumer.
func followerServer(t *testing.T, ts *testServer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l := ts.cluster.log.(*jetStreamLog)
	f := l.fol.Load()
	if f == nil {
		t.Fatal("no follower")
	}
	st, err := l.js.Stream(ctx, l.name)
	if err != nil {
		t.Fatal(err)
	}
	for ci := range st.ListConsumers(ctx).Info() {
		if strings.HasPrefix(ci.Name, f.prefix) && ci.Cluster != nil {
			return ci.Cluster.Leader
		}
	}
	t.Fatalf("the follower's consumer (%s…) not found", f.prefix)
	return ""
}
