package transport

// /healthz's "stalled" state in cluster mode, on a real node whose follower
// is held back (the follower's testHookApply, as in
// TestClusterResumeOnNodeBehind) while another node publishes through a
// real nats-server.
//
// Invariants checked:
//   HZ1. A node that is caught up and idle for longer than stallAfter is
//       healthy: stalled means behind and still, not just still.
//   HZ2. A follower behind the log's last seq that has applied nothing for
//       stallAfter makes /healthz answer 503 "stalled", with the log's
//       fields (stream, connected, last, applied, lag) exact, and the lag in
//       ringcast_log_follower_lag.
//   HZ3. A follower that moves again, even while still behind, is "ok"
//       (200) until it has been still for stallAfter again; once caught up,
//       "ok" with lag 0.
//   HZ4. A node idle for longer than stallAfter that falls behind is "ok"
//       until it has been behind, without applying, for stallAfter: the
//       clock starts when the node is seen behind, not at its last apply.

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startNodeOn starts a cluster node on the NATS server (or servers) at url,
// running each setup on it before it serves, and waits until it is ready.
func startNodeOn(t testing.TB, url string, cfg Config, setup ...func(*Server)) *testServer {
	t.Helper()
	cfg.NATSURL = url
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = time.Second
	}
	ts := startServer(t, cfg, setup...)
	waitFor(t, "the node to be ready", 10*time.Second, func() bool { return ts.cluster.f.ready.Load() })
	return ts
}

// clusterHealth is /healthz's answer in cluster mode.
type clusterHealth struct {
	code   int
	Status string `json:"status"`
	Log    struct {
		Stream    string `json:"stream"`
		Connected bool   `json:"connected"`
		Last      uint64 `json:"last"`
		Applied   uint64 `json:"applied"`
		Lag       uint64 `json:"lag"`
	} `json:"log"`
}

func readHealth(t *testing.T, ts *testServer) clusterHealth {
	t.Helper()
	code, body := health(t, ts)
	h := clusterHealth{code: code}
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("/healthz: %d %q: %v", code, body, err)
	}
	return h
}

// expectHealth fails unless h is status with the log's last, applied and
// lag, on a connected node of the stream "ringcast", with the code that
// goes with status.
func expectHealth(t *testing.T, h clusterHealth, status string, last, applied, lag uint64) {
	t.Helper()
	code := 200
	if status != "ok" {
		code = 503
	}
	if h.code != code || h.Status != status || h.Log.Stream != "ringcast" || !h.Log.Connected ||
		h.Log.Last != last || h.Log.Applied != applied || h.Log.Lag != lag {
		t.Fatalf("/healthz: %d %+v, want %d %q with last %d, applied %d, lag %d", h.code, h, code, status, last, applied, lag)
	}
}

// TestClusterStalled: HZ1 to HZ3.
func TestClusterStalled(t *testing.T) {
	const stall = 500 * time.Millisecond
	n := startNATS(t)
	a := startNode(t, n, Config{})
	b := startNodeOn(t, n.url, Config{}, func(s *Server) { s.cluster.stallAfter = stall })
	a.publish(Event{Topic: "h", Data: []byte("0")})
	waitApplied(t, 1, b)

	// HZ1: caught up, and nothing applied for longer than stallAfter.
	f := b.cluster.f
	waitFor(t, "B to be idle for stallAfter", 10*time.Second, func() bool {
		return time.Since(time.Unix(0, f.lastAt.Load())) > 2*stall
	})
	waitFor(t, "B's monitor to read the log's last seq", 10*time.Second, func() bool { return b.metric("ringcast_log_last_seq") == 1 })
	expectHealth(t, readHealth(t, b), "ok", 1, 1, 0)

	// Hold B's follower in its next apply; each send on step lets one
	// apply through.
	var entered atomic.Int32
	step := make(chan struct{})
	hook := func() { entered.Add(1); <-step }
	f.testHookApply.Store(&hook)
	var release sync.Once
	releaseAll := func() { release.Do(func() { f.testHookApply.Store(nil); close(step) }) }
	t.Cleanup(releaseAll) // before the nodes shut down: a held follower would not stop

	fellBehind := time.Now()
	a.publish(Event{Topic: "h", Data: []byte("1")})
	// HZ4: the monitor sees B behind (seq 2 held) at its next look; right
	// after, B has been behind for less than stallAfter.
	c := b.cluster
	waitFor(t, "B's monitor to see B behind", 10*time.Second, func() bool { return c.behindSince.Load() != 0 })
	h := readHealth(t, b)
	if seen := time.Unix(0, c.behindSince.Load()); seen.Before(fellBehind) {
		t.Fatalf("B seen behind at %v, before it fell behind (%v)", seen, fellBehind)
	} else if since := time.Since(seen); since < stall {
		expectHealth(t, h, "ok", 2, 1, 1)
	} else {
		t.Logf("/healthz took %v after B was seen behind (stallAfter %v): %+v", since, stall, h)
	}
	// Seq 2 alone is in the held apply: the rest is published after it.
	waitFor(t, "B's follower to hold seq 2", 10*time.Second, func() bool { return entered.Load() == 1 })
	for i := range 4 {
		a.publish(Event{Topic: "h", Data: []byte{byte('2' + i)}})
	}
	waitApplied(t, 6, a)

	// HZ2.
	waitFor(t, "B's monitor to read the log's last seq", 10*time.Second, func() bool { return b.metric("ringcast_log_last_seq") == 6 })
	waitFor(t, "/healthz on B to say stalled", 10*time.Second, func() bool { return readHealth(t, b).Status == "stalled" })
	expectHealth(t, readHealth(t, b), "stalled", 6, 1, 5)
	for name, want := range map[string]float64{"ringcast_log_follower_lag": 5, "ringcast_log_applied_seq": 1, "ringcast_log_last_seq": 6} {
		if got := b.metric(name); got != want {
			t.Fatalf("%s = %v while stalled, want %v", name, got, want)
		}
	}

	// HZ3: one apply (seq 2) goes through; the follower is behind again,
	// held in the next one (seqs 3 to 6), but it moved.
	// The apply's clock starts after the send: a /healthz answered within
	// stallAfter of before must say ok, and stalled must come after it.
	before := time.Now()
	step <- struct{}{}
	waitFor(t, "B to apply seq 2", 10*time.Second, func() bool { return f.applied.Load() == 2 })
	h = readHealth(t, b)
	if took := time.Since(before); took < stall {
		expectHealth(t, h, "ok", 6, 2, 4)
	} else {
		// Too slow to tell (a loaded machine): stalled would be right.
		t.Logf("/healthz took %v after the follower moved (stallAfter %v): %+v", took, stall, h)
	}
	waitFor(t, "B to stall again", 10*time.Second, func() bool { return readHealth(t, b).Status == "stalled" })
	if since := time.Since(before); since < stall {
		t.Fatalf("stalled %v after the follower moved, before stallAfter (%v)", since, stall)
	}
	expectHealth(t, readHealth(t, b), "stalled", 6, 2, 4)
	if got := b.metric("ringcast_log_follower_lag"); got != 4 {
		t.Fatalf("ringcast_log_follower_lag = %v, want 4", got)
	}

	releaseAll()
	waitApplied(t, 6, b)
	expectHealth(t, readHealth(t, b), "ok", 6, 6, 0)
	if got := b.metric("ringcast_log_follower_lag"); got != 0 {
		t.Fatalf("ringcast_log_follower_lag = %v after catching up, want 0", got)
	}
}
