// Package e2e runs `ringcast serve` with each engine as a subprocess on
// loopback, drives it with the load generator at a ladder of load points and
// writes what it found: each engine's highest loss-free delivery rate, the
// ratio between the engines and the server's memory per idle connection
// (docs/e2e.md when run by `make bench-e2e`), and the report as JSON, from
// which package e2echarts draws the charts in the report tool. The same
// ladder climbs the cluster setups, the ring engine through NATS JetStream
// (cluster.go), against the standalone ring of the same run.
//
// Every server is a fresh process for every point, so a lossy point cannot
// leave state behind for the next one; its RSS and CPU come from /proc/<pid>.
package e2e

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ringcast/ringcast/internal/report"
	"github.com/ringcast/ringcast/loadgen"
)

// Config describes an e2e run. Zero fields take the documented defaults.
type Config struct {
	// Binary is the ringcast executable (default: this process's own).
	Binary string
	// ServeArgs are added to every `serve` command line.
	ServeArgs []string
	// Engines to compare (ring, chan); the first standalone one is the
	// numerator of the ratio. Cluster setups (ClusterNodes: ring-nats,
	// ring-nats-<n>nodes) may follow; each is compared with "ring".
	Engines []string
	// Subscribers are the subscriber counts of the ladders (100, 1000).
	Subscribers []int
	// StartDeliveries is the first point of each ladder, in deliveries per
	// second (subscribers × rate): 100,000. Each next point doubles it until
	// a point loses events or MaxPoints; then Bisections points, each halfway
	// between the last loss-free and the first lossy one so far, refine the
	// answer.
	StartDeliveries float64
	MaxPoints       int // 8
	Bisections      int // 2; negative: none
	// GoalSubscribers × GoalRate is always measured (1000 × 1000).
	GoalSubscribers int
	GoalRate        float64
	// PointDuration is the measured phase of each point (4s).
	PointDuration time.Duration
	// Payload in bytes (128).
	Payload int
	// IdleConnections are held open to measure memory per connection
	// (10,000); IdleHold is how long (3s).
	IdleConnections int
	IdleHold        time.Duration
	// ConnectRate of the subscribers (5,000/s).
	ConnectRate float64
	// The churn point (churn.go), on the first engine: ChurnSubscribers
	// (2,000; negative: none) of one topic × ChurnRate events/s (100) for
	// ChurnDuration (10s), ChurnFraction (0.5) of them reconnecting every
	// ChurnEvery (1s) on average, against the same load without churn.
	ChurnSubscribers int
	ChurnRate        float64
	ChurnDuration    time.Duration
	ChurnFraction    float64
	ChurnEvery       time.Duration
	// Budget bounds the whole run; points that would start after it are
	// skipped and reported as such (15m).
	Budget time.Duration
	// Progress receives one line per point (and the load generator's live
	// line when ProgressTTY).
	Progress    io.Writer    `json:"-"`
	ProgressTTY bool         `json:"-"`
	Logger      *slog.Logger `json:"-"`
}

func (c *Config) setDefaults() error {
	if c.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("cannot find the ringcast binary: %v", err)
		}
		c.Binary = exe
	}
	if len(c.Engines) == 0 {
		c.Engines = []string{"ring", "chan"}
	}
	for _, e := range c.Engines {
		if _, err := ClusterNodes(e); err != nil {
			return err
		}
	}
	if len(c.Subscribers) == 0 {
		c.Subscribers = []int{100, 1000}
	}
	// Zero means the default.
	c.StartDeliveries = cmp.Or(c.StartDeliveries, 100_000)
	c.MaxPoints = cmp.Or(c.MaxPoints, 8)
	c.Bisections = cmp.Or(c.Bisections, 2)
	c.GoalSubscribers = cmp.Or(c.GoalSubscribers, 1000)
	c.GoalRate = cmp.Or(c.GoalRate, 1000)
	c.PointDuration = cmp.Or(c.PointDuration, 4*time.Second)
	c.Payload = cmp.Or(c.Payload, 128)
	c.IdleConnections = cmp.Or(c.IdleConnections, 10_000)
	c.IdleHold = cmp.Or(c.IdleHold, 3*time.Second)
	c.ConnectRate = cmp.Or(c.ConnectRate, 5000)
	c.ChurnSubscribers = cmp.Or(c.ChurnSubscribers, 2000)
	c.ChurnRate = cmp.Or(c.ChurnRate, 100)
	c.ChurnDuration = cmp.Or(c.ChurnDuration, 10*time.Second)
	c.ChurnFraction = cmp.Or(c.ChurnFraction, 0.5)
	c.ChurnEvery = cmp.Or(c.ChurnEvery, time.Second)
	c.Budget = cmp.Or(c.Budget, 15*time.Minute)
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// Point is one measured load point.
type Point struct {
	Engine      string          `json:"engine"`
	Subscribers int             `json:"subscribers"`
	Rate        float64         `json:"rate"`
	Offered     float64         `json:"offered_deliveries_per_sec"`
	Goal        bool            `json:"goal,omitempty"`
	Result      *loadgen.Result `json:"-"`
	Summary     PointSummary    `json:"summary"`
	Err         string          `json:"error,omitempty"`
}

// Measured reports whether the point was measured (it has a Summary; its
// Result is kept in memory only) rather than failed.
func (p *Point) Measured() bool { return p.Err == "" }

// PointSummary is the part of a point's result the report shows.
type PointSummary struct {
	LossFree    bool    `json:"loss_free"`
	Delivered   float64 `json:"deliveries_per_sec"`
	Expected    int64   `json:"expected"`
	Lost        int64   `json:"lost"`
	Lagged      int64   `json:"lagged"`
	Resets      int64   `json:"resets"`
	Reconnects  int64   `json:"reconnects"`
	PublishRate float64 `json:"publish_rate"`
	// PublishLagMean is how late, on average, events were handed to the
	// server (ms); KeptUp says it stayed within MaxMeanPublishLagMs.
	PublishLagMean float64 `json:"publish_lag_mean_ms"`
	KeptUp         bool    `json:"kept_up"`
	P50            float64 `json:"p50_ms"`
	P99            float64 `json:"p99_ms"`
	P999           float64 `json:"p999_ms"`
	Max            float64 `json:"max_ms"`
	ServerCPU      float64 `json:"server_cpu_cores"`
	ClientCPU      float64 `json:"client_cpu_cores"`
	ServerRSS      int64   `json:"server_rss_peak"`
	HiccupP99      float64 `json:"client_hiccup_p99_ms"`
	ReadDelayP99   float64 `json:"client_read_delay_p99_ms"`
	NotKeptUpPct   float64 `json:"not_kept_up_pct,omitempty"`
	// PublishRTTP50 and PublishRTTP99 are the round trip of the publish
	// calls the server accepted (ms): in cluster mode, JetStream's
	// acknowledgement.
	PublishRTTP50 float64 `json:"publish_rtt_p50_ms"`
	PublishRTTP99 float64 `json:"publish_rtt_p99_ms"`
}

// Idle is one engine's memory per idle connection.
type Idle struct {
	Engine       string  `json:"engine"`
	Connections  int     `json:"connections"`
	Held         int     `json:"held"`
	RSSBefore    int64   `json:"rss_before"`
	RSSAfter     int64   `json:"rss_after"`
	BytesPerConn float64 `json:"bytes_per_conn"`
	// LivePerConn is the Go heap + stacks in use per connection (0: unknown).
	LivePerConn float64 `json:"live_bytes_per_conn"`
	Err         string  `json:"error,omitempty"`
}

// Report is everything an e2e run found.
type Report struct {
	Config   Config
	Started  time.Time
	Elapsed  time.Duration
	Points   []*Point
	Idle     []Idle
	Churn    *Churn // nil: not measured
	Skipped  []string
	Machine  string
	Revision string
	// LoadBefore and LoadAfter are the 1-minute load averages around the
	// run: above the core count, other work was competing for the CPU.
	LoadBefore, LoadAfter float64
	ServeCmd              string
	// Unbounded lists the ladders ("ring 1000") that ended at MaxPoints or
	// the budget without a lossy point: their highest rate is a lower bound.
	Unbounded []string
	// Cluster has one entry per cluster setup in Config.Engines.
	Cluster []ClusterResult `json:",omitempty"`
}

// Run measures every engine and returns the report. It fails only when a
// server cannot be started at all.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if _, err := loadgen.RaiseOpenFileLimit(); err != nil {
		cfg.Logger.Warn("e2e: cannot raise the open file limit", "err", err)
	}
	rep := &Report{Config: cfg, Started: time.Now(), Machine: describeMachine(), Revision: describeRevision(cfg.Binary)}
	rep.LoadBefore = loadAverage()
	rep.ServeCmd = strings.Join(append([]string{"ringcast", "serve", "--engine", "<engine>"}, cfg.ServeArgs...), " ")
	deadline := rep.Started.Add(cfg.Budget)
	for _, engine := range cfg.Engines {
		if ctx.Err() != nil {
			break
		}
		if time.Now().Before(deadline) {
			rep.Points = append(rep.Points, runPoint(ctx, &cfg, engine, cfg.GoalSubscribers, cfg.GoalRate, true))
		} else {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s goal point (budget)", engine))
		}
		if engine == cfg.Engines[0] && cfg.ChurnSubscribers > 0 && !isCluster(engine) {
			if time.Now().Before(deadline) {
				rep.Churn = runChurn(ctx, &cfg, engine)
			} else {
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s churn point (budget)", engine))
			}
		}
		for _, n := range cfg.Subscribers {
			rep.ladder(ctx, &cfg, engine, n, deadline)
		}
		if isCluster(engine) {
			// A cluster node holds its connections in the same ring
			// engine as the standalone ring: its idle memory is that.
			continue
		}
		// Idle last: 10,000 connections leave this process a large heap and
		// the kernel 10,000 sockets to tear down, which the goal point, run
		// right after them, paid for (p99 32 ms where the heavier 1000 ×
		// 1600/s point that followed had 27.5 ms).
		idle, err := runIdle(ctx, &cfg, engine)
		if err != nil && errors.Is(err, errServerStart) {
			return nil, err
		}
		rep.Idle = append(rep.Idle, idle)
	}
	rep.Cluster = rep.clusterResults()
	rep.Elapsed = time.Since(rep.Started)
	rep.LoadAfter = loadAverage()
	return rep, nil
}

// ladder doubles the offered load until a point loses events, then bisects
// between the last good and the first bad point.
func (rep *Report) ladder(ctx context.Context, cfg *Config, engine string, n int, deadline time.Time) {
	var good, bad float64
	defer func() {
		if good > 0 && bad == 0 {
			rep.Unbounded = append(rep.Unbounded, fmt.Sprintf("%s %d", engine, n))
		}
	}()
	for k := 0; k < cfg.MaxPoints && ctx.Err() == nil; k++ {
		offered := cfg.StartDeliveries * float64(int(1)<<k)
		if time.Now().After(deadline) {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s %d subscribers from %s deliveries/s (budget)", engine, n, report.Rate(offered)))
			return
		}
		p := runPoint(ctx, cfg, engine, n, offered/float64(n), false)
		rep.Points = append(rep.Points, p)
		if !p.Summary.LossFree {
			bad = offered
			break
		}
		good = offered
	}
	if good > 0 && bad > 0 {
		bisect(good, bad, cfg.Bisections, func(offered float64) (lossFree, ok bool) {
			if !time.Now().Before(deadline) || ctx.Err() != nil {
				return false, false
			}
			p := runPoint(ctx, cfg, engine, n, offered/float64(n), false)
			rep.Points = append(rep.Points, p)
			return p.Summary.LossFree, true
		})
	}
}

// bisect narrows [good, bad) steps times by trying the midpoint: try reports
// whether a load was loss-free, and ok false to stop early.
func bisect(good, bad float64, steps int, try func(offered float64) (lossFree, ok bool)) (float64, float64) {
	for range max(steps, 0) {
		mid := (good + bad) / 2
		lossFree, ok := try(mid)
		if !ok {
			break
		}
		if lossFree {
			good = mid
		} else {
			bad = mid
		}
	}
	return good, bad
}

var errServerStart = errors.New("server did not start")

// MaxMeanPublishLagMs is how late, on average, the publisher may hand events
// to the server for a point to count as offered at its rate. A server that
// accepts events slower than the rate makes the lag grow through the run
// (about 2.5% slower over a 4 s point gives 50 ms), while one hiccup near the
// end of a point barely moves the mean.
const MaxMeanPublishLagMs = 50

// server is one `ringcast serve` subprocess.
type server struct {
	cmd   *exec.Cmd
	url   string
	admin string
	out   *tailBuffer
	done  chan error
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer starts one `ringcast serve --engine engine`, with extra
// flags (a cluster node's) before cfg.ServeArgs.
func startServer(ctx context.Context, cfg *Config, engine string, extra ...string) (*server, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	admin, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--addr", addr, "--admin-addr", admin, "--engine", engine, "--shutdown-timeout", "2s", "--log-level", "warn"}, extra...)
	args = append(args, cfg.ServeArgs...)
	s := &server{url: "http://" + addr, admin: "http://" + admin, out: &tailBuffer{max: 8 << 10}, done: make(chan error, 1)}
	s.cmd = exec.Command(cfg.Binary, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", errServerStart, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	c := &http.Client{Timeout: time.Second}
	for i := 0; i < 200; i++ {
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("%w: %s %s exited: %v\n%s", errServerStart, cfg.Binary, strings.Join(args, " "), err, s.out.String())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if resp, err := c.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
	}
	s.stop()
	return nil, fmt.Errorf("%w: %s did not answer /healthz within 5s\n%s", errServerStart, s.url, s.out.String())
}

// stop sends SIGTERM and waits for a clean exit, then kills.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return
	case <-time.After(5 * time.Second):
	}
	s.cmd.Process.Kill()
	<-s.done
}

func runIdle(ctx context.Context, cfg *Config, engine string) (Idle, error) {
	idle := Idle{Engine: engine, Connections: cfg.IdleConnections}
	srv, err := startServer(ctx, cfg, engine)
	if err != nil {
		idle.Err = err.Error()
		return idle, err
	}
	defer srv.stop()
	fmt.Fprintf(cfg.Progress, "[%s] idle: %d connections held %v ...\n", engine, cfg.IdleConnections, cfg.IdleHold)
	res, err := loadgen.Run(ctx, loadgen.Config{
		URL: srv.url, Scenario: loadgen.ScenarioIdle, Subscribers: cfg.IdleConnections, ConnectRate: cfg.ConnectRate,
		Duration: cfg.IdleHold, ServerPID: srv.cmd.Process.Pid, MetricsURL: srv.url + "/metrics", ReadBuffer: 4 << 10,
		IdleGC: true, AdminURL: srv.admin,
		Progress: ttyOnly(cfg), ProgressTTY: cfg.ProgressTTY, Logger: cfg.Logger,
	})
	if err != nil {
		idle.Err = err.Error()
		return idle, err
	}
	if res.Idle == nil || res.Server == nil || res.Server.Error != "" {
		idle.Err = "no server memory figures"
		return idle, nil
	}
	idle.Held = res.Idle.ConnectionsHeld
	idle.RSSBefore, idle.RSSAfter, idle.BytesPerConn = res.Idle.RSSBefore, res.Idle.RSSAfter, res.Idle.BytesPerConn
	idle.LivePerConn = res.Idle.LiveBytesPerConn
	fmt.Fprintf(cfg.Progress, "[%s] idle: %d held, RSS %s -> %s: %.0f B per connection (Go heap + stacks: %.0f B)\n",
		engine, idle.Held, report.Bytes(idle.RSSBefore), report.Bytes(idle.RSSAfter), idle.BytesPerConn, idle.LivePerConn)
	return idle, nil
}

func ttyOnly(cfg *Config) io.Writer {
	if cfg.ProgressTTY {
		return cfg.Progress
	}
	return nil
}

func runPoint(ctx context.Context, cfg *Config, engine string, subs int, rate float64, goal bool) *Point {
	p := &Point{Engine: engine, Subscribers: subs, Rate: rate, Offered: rate * float64(subs), Goal: goal}
	label := fmt.Sprintf("[%s] %d subscribers × %s events/s", engine, subs, report.Rate(rate))
	fmt.Fprintf(cfg.Progress, "%s ...\n", label)
	// The previous point's subscribers are garbage: collect it now rather
	// than during this point's measurement (the load generator runs in this
	// process).
	runtime.GC()
	st, err := startSetup(ctx, cfg, engine)
	if err != nil {
		p.Err = err.Error()
		fmt.Fprintf(cfg.Progress, "%s: %v\n", label, err)
		return p
	}
	defer st.stop()
	// Server CPU and RSS are summed over the nodes (K3 in cluster.go).
	srv := st.nodes[0]
	lc := loadgen.Config{
		URL: srv.url, Subscribers: subs, Rate: rate, Duration: cfg.PointDuration, Payload: cfg.Payload,
		ConnectRate: cfg.ConnectRate, DrainTimeout: 2 * time.Second, ServerPID: srv.cmd.Process.Pid,
		MetricsURL: srv.url + "/metrics", Progress: ttyOnly(cfg), ProgressTTY: cfg.ProgressTTY, Logger: cfg.Logger,
	}
	if len(st.nodes) > 1 {
		lc.URLs = st.urls()
		for _, n := range st.nodes[1:] {
			lc.ServerPIDs = append(lc.ServerPIDs, n.cmd.Process.Pid)
		}
	}
	res, err := loadgen.Run(ctx, lc)
	if err != nil {
		p.Err = err.Error()
		fmt.Fprintf(cfg.Progress, "%s: %v\n", label, err)
		return p
	}
	p.Result = res
	s := &p.Summary
	s.Delivered, s.Expected, s.Lost = res.DeliveriesPerSec, res.Expected, res.Lost
	s.Lagged, s.Resets, s.Reconnects, s.PublishRate = res.Lagged, res.Resets, res.Reconnects, res.PublishRate
	s.P50, s.P99, s.P999, s.Max = res.Latency.P50Ms, res.Latency.P99Ms, res.Latency.P999Ms, res.Latency.MaxMs
	s.ClientCPU, s.HiccupP99, s.ReadDelayP99 = res.Client.CPUCores, res.Client.Hiccup.P99Ms, res.Client.ReadDelay.P99Ms
	s.PublishRTTP50, s.PublishRTTP99 = res.PublishRTT.P50Ms, res.PublishRTT.P99Ms
	if res.Server != nil {
		s.ServerCPU, s.ServerRSS = res.Server.CPUCores, res.Server.RSSPeak
	}
	// Loss-free: every event reached every subscriber once, nobody lagged,
	// reset or reconnected, and the schedule was kept (a publisher that fell
	// behind because the server accepted events slower than the rate did not
	// offer the load).
	s.PublishLagMean = res.PublishLagMeanMs
	s.KeptUp = res.PublishLagMeanMs <= MaxMeanPublishLagMs
	s.LossFree = res.LossFree() && res.Lagged == 0 && res.Resets == 0 && res.Reconnects == 0 &&
		res.Ready == subs && s.KeptUp
	verdict := "loss-free"
	if !s.LossFree {
		verdict = "LOSSY"
		if res.Lost == 0 && !s.KeptUp {
			verdict = "publisher fell behind"
		}
	}
	fmt.Fprintf(cfg.Progress, "%s: %s deliveries/s, lost %d, lagged %d, p50 %s p99 %s max %s, publish rtt p99 %s, server %.2f cores, client %.2f cores (hiccup p99 %s) — %s\n",
		label, report.Rate(s.Delivered), s.Lost, s.Lagged, report.Ms(s.P50), report.Ms(s.P99), report.Ms(s.Max),
		report.Ms(s.PublishRTTP99), s.ServerCPU, s.ClientCPU, report.Ms(s.HiccupP99), verdict)
	return p
}

// Best returns the engine's loss-free point with the highest delivery rate.
func (rep *Report) Best(engine string) *Point { return rep.BestWithin(engine, 0) }

// BestWithin is Best among the points whose p99 is at most p99Ms (0: any).
func (rep *Report) BestWithin(engine string, p99Ms float64) *Point {
	var best *Point
	for _, p := range rep.Points {
		if p.Engine != engine || !p.Summary.LossFree || (p99Ms > 0 && p.Summary.P99 > p99Ms) {
			continue
		}
		if best == nil || p.Summary.Delivered > best.Summary.Delivered {
			best = p
		}
	}
	return best
}

func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscanf(string(b), "%f", &l)
	return l
}

// GoalPoint returns the engine's goal point.
func (rep *Report) GoalPoint(engine string) *Point {
	for _, p := range rep.Points {
		if p.Engine == engine && p.Goal {
			return p
		}
	}
	return nil
}

// IdleOf returns the engine's idle measurement.
func (rep *Report) IdleOf(engine string) *Idle {
	for i := range rep.Idle {
		if rep.Idle[i].Engine == engine {
			return &rep.Idle[i]
		}
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it (a server's log).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
