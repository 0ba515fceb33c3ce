package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringcast/ringcast/loadgen"
	"github.com/ringcast/ringcast/transport"
	"go.uber.org/goleak"

	"github.com/ringcast/ringcast/internal/leakcheck"
	"github.com/ringcast/ringcast/internal/natsembed"
	"github.com/ringcast/ringcast/internal/ssetest"
)

// fakeServeEnv makes the test binary act as `ringcast serve`: the e2e runner
// starts it as a subprocess, the way it starts the real binary, and it serves
// the ssetest server on the --addr it is given.
const fakeServeEnv = "RINGCAST_E2E_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(fakeServeEnv) != "" {
		os.Exit(fakeServe(os.Args[1:]))
	}
	// fasthttp runs in the in-process ringcast server.
	goleak.VerifyTestMain(m, leakcheck.FastHTTP()...)
}

func fakeServe(args []string) int {
	if len(args) == 0 || args[0] != "serve" {
		return 2
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	admin := fs.String("admin-addr", "", "")
	engine := fs.String("engine", "", "")
	fs.String("shutdown-timeout", "", "")
	fs.String("log-level", "", "")
	natsEmbedded := fs.Bool("nats-embedded", false, "")
	natsStore := fs.String("nats-store", "", "")
	natsListen := fs.String("nats-listen", "", "")
	natsURL := fs.String("nats", "", "")
	if err := fs.Parse(args[1:]); err != nil || *addr == "" {
		return 2
	}
	if *natsEmbedded || *natsURL != "" {
		return fakeClusterNode(*addr, *admin, *engine, *natsEmbedded, *natsStore, *natsListen, *natsURL)
	}
	opts := ssetest.Options{Addr: *addr, AdminAddr: *admin, Admin: true}
	if *engine == "chan" {
		// The "chan" fake drops every 7th event (silently), so the two engines
		// differ the way the report must show: chan is never loss-free.
		opts.Drop = func(seq uint64, _ []byte) bool { return seq%7 == 0 }
	}
	srv, err := ssetest.Start(opts)
	if err != nil {
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	srv.Close()
	return 0
}

// fakeClusterNode serves the real ringcast server in cluster mode, on an
// embedded NATS server like `serve --nats-embedded` or joining one like
// `serve --nats`. It refuses what the e2e runner must never ask for (K1 in
// cluster.go): a store that is not fresh, NATS's default port, an engine
// other than ring.
func fakeClusterNode(addr, admin, engine string, embedded bool, store, listen, natsURL string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "fake cluster node: "+format+"\n", a...)
		return 1
	}
	if engine != "ring" {
		return fail("engine %q", engine)
	}
	if embedded {
		if entries, err := os.ReadDir(store); err != nil || len(entries) != 0 {
			return fail("the store %q is not a fresh directory (%v, %d entries)", store, err, len(entries))
		}
		if _, port, err := net.SplitHostPort(listen); err != nil || port == "4222" || port == "0" {
			return fail("--nats-listen %q: want a free port picked by the runner", listen)
		}
		ns, err := natsembed.Start(natsembed.Options{StoreDir: store, Listen: listen})
		if err != nil {
			return fail("%v", err)
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		natsURL = ns.ClientURL()
	}
	srv, err := transport.New(transport.Config{NATSURL: natsURL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return fail("%v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fail("%v", err)
	}
	adminLn, err := net.Listen("tcp", admin)
	if err != nil {
		ln.Close()
		return fail("%v", err)
	}
	go srv.Serve(ln)
	go srv.ServeAdmin(adminLn)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	return 0
}

// runFake runs cfg with this test binary as `ringcast serve` (fakeServe).
func runFake(t *testing.T, cfg Config) (*Report, *bytes.Buffer) {
	t.Helper()
	t.Setenv(fakeServeEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	progress := &bytes.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cfg.Binary, cfg.Progress = exe, progress
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	t.Log("\n" + progress.String())
	return rep, progress
}

// markdownViaJSON writes rep as Markdown, and fails unless the report read
// back from its JSON reads the same: the report tool draws the charts from
// the JSON, which must carry everything the Markdown shows. It returns the
// JSON read back and the Markdown.
func markdownViaJSON(t *testing.T, rep *Report) (*Report, string) {
	t.Helper()
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&js)
	if err != nil {
		t.Fatal(err)
	}
	var md, mdBack bytes.Buffer
	if err := rep.WriteMarkdown(&md, "e2e", ChartFiles); err != nil {
		t.Fatal(err)
	}
	if err := back.WriteMarkdown(&mdBack, "e2e", ChartFiles); err != nil {
		t.Fatal(err)
	}
	if md.String() != mdBack.String() {
		t.Fatalf("the report read back from JSON reads differently:\n%s\n---\n%s", md.String(), mdBack.String())
	}
	return back, md.String()
}

func TestRunWritesReport(t *testing.T) {
	rep, _ := runFake(t, Config{
		Subscribers: []int{4}, StartDeliveries: 800, MaxPoints: 2, GoalSubscribers: 3, GoalRate: 100,
		PointDuration: 500 * time.Millisecond, IdleConnections: 30, IdleHold: 200 * time.Millisecond,
		ChurnSubscribers: 8, ChurnRate: 100, ChurnDuration: 800 * time.Millisecond, ChurnEvery: 150 * time.Millisecond,
	})
	// The fake "ring" loses nothing; the fake "chan" drops every 7th event,
	// so its ladder stops at its first point and it has no loss-free point.
	// (Whether a ring point is loss-free also depends on the publisher keeping
	// its schedule, which a loaded machine may not allow: not asserted.)
	var ringPoints, chanPoints int
	for _, p := range rep.Points {
		if p.Result == nil || !p.Measured() {
			t.Fatalf("point %+v failed: %s", p, p.Err)
		}
		switch p.Engine {
		case "ring":
			ringPoints++
			if p.Summary.Lost != 0 || p.Summary.Lagged != 0 || p.Summary.P99 <= 0 {
				t.Fatalf("ring point %+v", p.Summary)
			}
		case "chan":
			chanPoints++
			if p.Summary.Lost == 0 || p.Summary.LossFree {
				t.Fatalf("chan point should be lossy: %+v", p.Summary)
			}
		}
	}
	// ring: the goal point and at least the first doubling; chan: the goal
	// point and the first, lossy, doubling.
	if ringPoints < 2 || chanPoints != 2 || rep.Best("chan") != nil {
		t.Fatalf("%d ring points, %d chan points", ringPoints, chanPoints)
	}
	if g := rep.GoalPoint("chan"); g == nil || !g.Goal {
		t.Fatal("no chan goal point")
	}
	for _, e := range []string{"ring", "chan"} {
		if id := rep.IdleOf(e); id == nil || id.Err != "" || id.Held != 30 {
			t.Fatalf("%s idle: %+v", e, id)
		}
	}

	// The churn point: the churning half reconnected and resumed without
	// loss (the fake keeps every event); the run without churn did not
	// reconnect; the server's descriptors were read, and held at least the
	// steady half's connections (a sample may fall while churning
	// subscribers are between two connections).
	if c := rep.Churn; c == nil || c.Engine != "ring" || c.Steady.Err != "" || c.Churning.Err != "" {
		t.Fatalf("churn point: %+v", rep.Churn)
	} else if c.Steady.Reconnects != 0 || c.Churning.Reconnects == 0 || c.Churning.ResumedLost != 0 || c.Churning.SteadyLost != 0 ||
		c.Churning.FDsStart <= 0 || c.Churning.FDsPeak < c.Churning.FDsStart+int64(c.Subscribers/2) {
		t.Fatalf("churn point: without %+v, with %+v", c.Steady, c.Churning)
	}

	_, md := markdownViaJSON(t, rep)
	for _, want := range []string{"## Summary", "Ratio ring/chan", "n/a (an engine had no loss-free point)", "## All points", "![deliveries](e2e/deliveries.svg)", "lossy", "Machine:",
		"## Churn", "| with churn |", "no loss for resumed clients inside the window: 0 lost, 0 resets — met"} {
		if !strings.Contains(md, want) {
			t.Fatalf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Count(md, "| ring") < 3 {
		t.Fatalf("report has too few ring rows:\n%s", md)
	}
}

// TestReportServerCPUPerDelivery: the summary divides each engine's server CPU
// by its deliveries at its best point, and compares the two.
func TestReportServerCPUPerDelivery(t *testing.T) {
	cfg := Config{Engines: []string{"ring", "chan"}}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	point := func(engine string, subs int, rate, cpu float64) *Point {
		return &Point{Engine: engine, Subscribers: subs, Rate: rate, Offered: float64(subs) * rate, Result: &loadgen.Result{},
			Summary: PointSummary{LossFree: true, KeptUp: true, Delivered: float64(subs) * rate, ServerCPU: cpu}}
	}
	rep := &Report{Config: cfg, Points: []*Point{
		point("ring", 1000, 9600, 0.624),
		point("ring", 1000, 4800, 0.5),
		point("chan", 1000, 4800, 0.998),
	}}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md, "e2e", nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| ring | 9.60M | 1000 × 9600/s | 65 ns |", "| chan | 4.80M | 1000 × 4800/s | 208 ns |",
		"the ring server spent 3.2× less CPU per delivery than the chan server (65 vs 208 ns)"} {
		if !strings.Contains(md.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, md.String())
		}
	}
}

// TestBisect: each step halves the interval around the true limit, and a try
// that cannot run ends the search where it stands.
func TestBisect(t *testing.T) {
	const limit = 11.0e6 // loss-free up to here
	var tried []float64
	try := func(x float64) (bool, bool) {
		tried = append(tried, x)
		return x <= limit, true
	}
	good, bad := bisect(6.4e6, 12.8e6, 2, try)
	if good != 9.6e6 || bad != 11.2e6 || len(tried) != 2 {
		t.Fatalf("after 2 steps [%v, %v) from %v; want [9.6M, 11.2M) from 2 tries", good, bad, tried)
	}
	tried = nil
	good, bad = bisect(6.4e6, 12.8e6, 3, func(x float64) (bool, bool) {
		if len(tried) == 1 {
			return false, false // out of budget
		}
		return try(x)
	})
	if good != 9.6e6 || bad != 12.8e6 || len(tried) != 1 {
		t.Fatalf("stopped after one try: [%v, %v) from %v", good, bad, tried)
	}
	if good, bad = bisect(1, 2, -1, try); good != 1 || bad != 2 {
		t.Fatal("negative steps bisected")
	}
}

// TestRunClusterLadder: the cluster setups climb the ladder on real
// ringcast nodes (the real server in cluster mode, on an embedded NATS
// server, in this test binary run as `serve`), one node and two, and the
// report carries each with its highest loss-free rate, its share of the
// standalone ring's, its goal point and the publish round trip. Tiny
// points: what is tested is the runner, not the figures.
func TestRunClusterLadder(t *testing.T) {
	rep, progress := runFake(t, Config{
		Engines: []string{"ring", ClusterEngine, ClusterEngine + "-2nodes"}, Subscribers: []int{4},
		StartDeliveries: 200, MaxPoints: 1, GoalSubscribers: 2, GoalRate: 50, PointDuration: 400 * time.Millisecond,
		IdleConnections: 10, IdleHold: 100 * time.Millisecond, ChurnSubscribers: -1,
	})
	for _, p := range rep.Points {
		if !p.Measured() {
			t.Fatalf("point %s %d × %v failed: %s", p.Engine, p.Subscribers, p.Rate, p.Err)
		}
		// Every event through JetStream reached every subscriber once, on
		// whichever node it was published to or read from.
		if p.Summary.Lost != 0 || p.Summary.Lagged != 0 || p.Summary.Expected == 0 || p.Summary.PublishRTTP99 <= 0 {
			t.Fatalf("%s point: %+v", p.Engine, p.Summary)
		}
		// Server CPU and RSS are read from every node (K3).
		nodes, _ := ClusterNodes(p.Engine)
		if srv := p.Result.Server; srv == nil || strings.Count(srv.Source, "/proc/") != max(nodes, 1) {
			t.Fatalf("%s point's server figures: %+v", p.Engine, srv)
		}
	}
	if len(rep.Idle) != 1 || rep.Idle[0].Engine != "ring" {
		t.Fatalf("idle memory is the standalone engines' only: %+v", rep.Idle)
	}
	if len(rep.Cluster) != 2 {
		t.Fatalf("cluster results: %+v", rep.Cluster)
	}
	ring := rep.Best("ring")
	for i, c := range rep.Cluster {
		if c.Nodes != i+1 || c.Engine != rep.Config.Engines[i+1] {
			t.Fatalf("cluster result %d: %+v", i, c)
		}
		// Both ladders end at MaxPoints without loss on any machine that
		// keeps 100 events/s: the same rates, so the share is about 1.
		best := rep.Best(c.Engine)
		if ring == nil || best == nil || c.Best != best.Summary.Delivered || c.Standalone != ring.Summary.Delivered ||
			c.Ratio != c.Best/c.Standalone || c.Ratio < 0.5 || c.Ratio > 2 || !c.BestLowerBound {
			t.Fatalf("%s: %+v (best %+v, ring %+v)\n%s", c.Engine, c, best, ring, progress.String())
		}
		if c.Goal == nil || !c.Goal.LossFree || c.Goal.PublishRTTP99 <= 0 || c.Goal.PublishRTTP50 > c.Goal.PublishRTTP99 {
			t.Fatalf("%s goal point: %+v %s", c.Engine, c.Goal, c.GoalErr)
		}
	}
	// The JSON carries the cluster results, and the Markdown reads the same
	// from it.
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"ratio_to_standalone_ring": `) {
		t.Fatalf("JSON lacks the ratio:\n%s", js.String())
	}
	back, md := markdownViaJSON(t, rep)
	if len(back.Cluster) != 2 || back.Cluster[1].Ratio != rep.Cluster[1].Ratio || back.Cluster[0].Goal == nil {
		t.Fatalf("cluster results read back: %+v", back.Cluster)
	}
	for _, want := range []string{"## Cluster: the ring engine through NATS JetStream", "| ring-nats (1 node) | ≥ ", "| ring-nats-2nodes (2 nodes) | ≥ ",
		"include the embedded NATS server", "publish rtt p50 / p99", "| ring-nats (goal) |"} {
		if !strings.Contains(md, want) {
			t.Fatalf("report lacks %q:\n%s", want, md)
		}
	}
}

// TestReportCluster: the cluster section divides each setup's highest
// loss-free rate by the standalone ring's and checks the goals.
func TestReportCluster(t *testing.T) {
	cfg := Config{Engines: []string{"ring", "chan", ClusterEngine, ClusterEngine + "-2nodes"}}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	point := func(engine string, subs int, rate float64, lossFree, goal bool, rttP99 float64) *Point {
		return &Point{Engine: engine, Subscribers: subs, Rate: rate, Offered: float64(subs) * rate, Goal: goal, Result: &loadgen.Result{},
			Summary: PointSummary{LossFree: lossFree, KeptUp: true, Delivered: float64(subs) * rate, P99: 20, PublishRTTP50: rttP99 / 3, PublishRTTP99: rttP99}}
	}
	rep := &Report{Config: cfg, Points: []*Point{
		point("ring", 1000, 8000, true, false, 1),
		point("ring", 1000, 16000, false, false, 1),
		point("chan", 1000, 4000, true, false, 1),
		point("chan", 1000, 8000, false, false, 1),
		point(ClusterEngine, 1000, 1000, true, true, 5),
		point(ClusterEngine, 1000, 6000, true, false, 12),
		point(ClusterEngine, 1000, 12000, false, false, 40),
		point(ClusterEngine+"-2nodes", 1000, 1000, true, true, 9),
		point(ClusterEngine+"-2nodes", 1000, 4000, true, false, 15),
		point(ClusterEngine+"-2nodes", 1000, 8000, false, false, 30),
	}}
	rep.Cluster = rep.clusterResults()
	if len(rep.Cluster) != 2 || rep.Cluster[0].Ratio != 0.75 || rep.Cluster[1].Ratio != 0.5 || rep.Cluster[0].BestPublishRTTP99 != 12 {
		t.Fatalf("cluster results: %+v", rep.Cluster)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md, "e2e", nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| ring-nats (1 node) | 6.00M | 1000 × 6000/s | 75% (6.00M of 8.00M) | 12.00ms | 0, 20.00ms | 1.67ms / 5.00ms |",
		"| ring-nats-2nodes (2 nodes) | 4.00M | 1000 × 4000/s | 50% (4.00M of 8.00M) |",
		"- ring-nats: highest loss-free deliveries/s ≥ 75% of the standalone ring's: 75% (6.00M of 8.00M) — met.",
		"- ring-nats-2nodes: highest loss-free deliveries/s ≥ 75% of the standalone ring's: 50% (4.00M of 8.00M) — **not met**.",
		"- ring-nats: 1000 subscribers × 1000 events/s of 128 B with no loss and p99 ≤ 30 ms: lost 0, p99 20.00ms — met.",
		"- ring-nats: publish round trip p99 ≤ 6 ms at that point: 5.00ms — met.",
		"- ring-nats-2nodes: publish round trip p99 ≤ 6 ms at that point: 9.00ms — **not met**.",
		"**Ratio ring/chan** of the highest loss-free delivery rates: 2.00×",
		"| ring-nats | 6.00M | 1000 × 6000/s |",
		"the stream (one atomic batch per publish call)",
	} {
		if !strings.Contains(md.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, md.String())
		}
	}
	if got := batchMode([]string{"--nats-pipelined-batches"}); !strings.Contains(got, "--nats-pipelined-batches") {
		t.Errorf("batchMode with pipelined batches: %q", got)
	}
}

func TestClusterNodes(t *testing.T) {
	for engine, want := range map[string]int{"ring": 0, "chan": 0, "ring-nats": 1, "ring-nats-1nodes": 1, "ring-nats-3nodes": 3} {
		if n, err := ClusterNodes(engine); err != nil || n != want {
			t.Errorf("ClusterNodes(%q) = %d, %v; want %d", engine, n, err, want)
		}
	}
	for _, engine := range []string{"ring-nats2", "ring-nats-2", "ring-nats-0nodes", "ring-nats-xnodes", "ring-nats-nodes"} {
		if _, err := ClusterNodes(engine); !errors.Is(err, ErrEngine) {
			t.Errorf("ClusterNodes(%q): %v, want ErrEngine", engine, err)
		}
	}
	if _, err := Run(context.Background(), Config{Binary: "/nonexistent", Engines: []string{"ring", "ring-nats-two"}}); !errors.Is(err, ErrEngine) {
		t.Fatalf("Run with a malformed cluster setup: %v", err)
	}
}
