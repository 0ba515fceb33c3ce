package e2e

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ringcast/ringcast/loadgen"
)

// Goals the report checks (docs/e2e.md; issue "The SSE server").
const (
	GoalIdleBytes = 8 << 10 // per idle connection at 10,000 connections
	GoalP99Ms     = 25      // at GoalSubscribers × GoalRate, with no loss
	GoalRatio     = 3       // first engine's highest loss-free rate over the second's
)

func describeMachine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, ln := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(ln, "MemTotal:") {
				var kb int64
				fmt.Sscanf(strings.TrimPrefix(ln, "MemTotal:"), "%d", &kb)
				mem = fmt.Sprintf(", %s RAM", loadgen.FormatBytes(kb<<10))
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d × %s%s%s, %s", runtime.NumCPU(), model, mem, kernel, runtime.Version())
}

// describeRevision names the source the binary was built from: the VCS stamp
// when the build has one, else what git says about the working tree.
func describeRevision(binary string) string {
	if info, err := buildinfo.ReadFile(binary); err == nil {
		var rev, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if modified == "true" {
				rev += " with uncommitted changes"
			}
			return rev
		}
	}
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown revision"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		rev += " (working tree with uncommitted changes)"
	}
	return rev
}

// WriteCharts writes the report's SVG charts into dir and returns their
// file names.
func (rep *Report) WriteCharts(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	type chart struct {
		name string
		draw func() ([]byte, error)
	}
	charts := []chart{
		{"loss-free.svg", rep.lossFreeChart},
		{"deliveries.svg", rep.deliveriesChart},
		{"p99.svg", rep.p99Chart},
		{"idle-memory.svg", rep.idleChart},
	}
	var names []string
	for _, c := range charts {
		svg, err := c.draw()
		if err != nil {
			return names, fmt.Errorf("%s: %v", c.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.name), svg, 0o644); err != nil {
			return names, err
		}
		names = append(names, c.name)
	}
	return names, nil
}

// ladderSeries is one line per engine and subscriber count, sorted by
// offered load.
func (rep *Report) ladderSeries(y func(*Point) float64) []loadgen.LineSeries {
	var out []loadgen.LineSeries
	for _, engine := range rep.Config.Engines {
		for _, n := range rep.Config.Subscribers {
			var pts []*Point
			for _, p := range rep.Points {
				if p.Engine == engine && p.Subscribers == n && p.Result != nil {
					pts = append(pts, p)
				}
			}
			sort.Slice(pts, func(i, j int) bool { return pts[i].Offered < pts[j].Offered })
			s := loadgen.LineSeries{Name: fmt.Sprintf("%s, %d subscribers", engine, n), Dashed: engine != rep.Config.Engines[0], Points: true}
			for _, p := range pts {
				s.X = append(s.X, p.Offered/1e6)
				s.Y = append(s.Y, y(p))
			}
			out = append(out, s)
		}
	}
	return out
}

func (rep *Report) deliveriesChart() ([]byte, error) {
	series := rep.ladderSeries(func(p *Point) float64 { return p.Summary.Delivered / 1e6 })
	var maxX float64
	for _, s := range series {
		for _, x := range s.X {
			maxX = max(maxX, x)
		}
	}
	series = append(series, loadgen.LineSeries{Name: "offered", X: []float64{0, maxX}, Y: []float64{0, maxX}, Dashed: true})
	return loadgen.LineChartSVG(loadgen.ChartOptions{
		Title: "Delivered vs offered load", XLabel: "offered deliveries/s (millions)", YLabel: "delivered/s (millions)",
	}, series)
}

func (rep *Report) lossFreeChart() ([]byte, error) {
	var all, bounded []float64
	for _, e := range rep.Config.Engines {
		v, w := 0.0, 0.0
		if p := rep.Best(e); p != nil {
			v = p.Summary.Delivered / 1e6
		}
		if p := rep.BestWithin(e, GoalP99Ms); p != nil {
			w = p.Summary.Delivered / 1e6
		}
		all, bounded = append(all, v), append(bounded, w)
	}
	return loadgen.BarChartSVG("Highest loss-free delivery rate", "million deliveries/s", rep.Config.Engines, []loadgen.BarGroup{
		{Name: "loss-free", Values: all},
		{Name: fmt.Sprintf("loss-free, p99 ≤ %d ms", GoalP99Ms), Values: bounded},
	}, 0, "")
}

func (rep *Report) p99Chart() ([]byte, error) {
	return loadgen.LineChartSVG(loadgen.ChartOptions{
		Title: "p99 latency (from intended send time) vs offered load", XLabel: "offered deliveries/s (millions)", YLabel: "p99, ms", LogY: true,
	}, rep.ladderSeries(func(p *Point) float64 { return p.Summary.P99 }))
}

func (rep *Report) idleChart() ([]byte, error) {
	var names []string
	var vals []float64
	for _, id := range rep.Idle {
		names = append(names, id.Engine)
		vals = append(vals, id.BytesPerConn/1024)
	}
	return loadgen.BarChartSVG(fmt.Sprintf("Server memory per idle connection (%d connections)", rep.Config.IdleConnections), "KiB",
		names, []loadgen.BarGroup{{Name: "RSS growth / connections", Values: vals}}, GoalIdleBytes/1024, "goal: 8 KiB")
}

func check(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// WriteMarkdown writes the report; chartsRel is the charts' directory
// relative to the Markdown file.
func (rep *Report) WriteMarkdown(w io.Writer, chartsRel string, charts []string) error {
	cfg := &rep.Config
	b := &strings.Builder{}
	p := func(format string, a ...any) { fmt.Fprintf(b, format+"\n", a...) }
	p("# End-to-end: `ringcast serve` under `ringcast loadgen`")
	p("")
	p("Generated by `make bench-e2e` (`go run ./cmd/ringcast e2e`) on %s, in %s.", rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.Elapsed.Round(time.Second))
	p("")
	p("**Source:** %s.", rep.Revision)
	p("")
	p("**Machine:** %s. The load generator runs on the same cores as the server, and anything else running", rep.Machine)
	p("on the machine competes with both, so absolute figures are noisy; compare engines within this run.")
	p("1-minute load average: %.2f before the run, %.2f after (%d cores: above that, other work competed for the CPU).", rep.LoadBefore, rep.LoadAfter, runtime.NumCPU())
	if min(rep.LoadBefore, rep.LoadAfter) > float64(runtime.NumCPU()) {
		p("")
		p("> **This run shared the CPU with other work** (load average above the core count throughout): server and")
		p("> client together got well under the %d cores, latencies carry the machine's scheduling delay (see *client", runtime.NumCPU())
		p("> hiccup*), and points near the limit can flip between loss-free and lossy from one run to the next.")
		p("> Treat rates as lower bounds and compare the engines within the run; rerun `make bench-e2e` on a quiet machine.")
	}
	p("")
	p("**Method.** Every point starts a fresh `%s` on 127.0.0.1 (its RSS and CPU read from", rep.ServeCmd)
	p("`/proc/<pid>`), opens the subscribers from 127.0.0.x, waits until each has received a warm-up event, then")
	p("publishes events at a fixed open-loop rate for %v as NDJSON batches to `/publish`, %d-byte payloads, one topic.", cfg.PointDuration, cfg.Payload)
	p("Latency runs from each event's *intended* send time to the moment it reached a subscriber's socket (the")
	p("kernel's receive timestamp of the read that completed it): no coordinated omission, and the load generator's")
	p("own delay in reading is left out (it is the *client read delay* column). A point is **loss-free** when every")
	p("subscriber received every event exactly once, nobody lagged, reset or reconnected, and the publisher kept the")
	p("schedule (events handed to the server at most %d ms late on average: a server that accepts events slower than", MaxMeanPublishLagMs)
	p("the rate is not offered that rate). Each ladder doubles the offered deliveries/s (subscribers × rate) from %s", loadgen.FormatRate(cfg.StartDeliveries))
	p("until a point is not loss-free, then bisects %d times between the last loss-free and the first lossy point.", max(cfg.Bisections, 0))
	p("")
	p("## Summary")
	p("")
	p("| engine | highest loss-free deliveries/s | at | server CPU per delivery there | … with p99 ≤ %d ms | %d × %s/s: lost, p99 | memory per idle connection |", GoalP99Ms, cfg.GoalSubscribers, loadgen.FormatRate(cfg.GoalRate))
	p("|---|---:|---|---:|---:|---|---:|")
	pointAt := func(bp *Point) (string, string) {
		if bp == nil {
			return "none", ""
		}
		return rep.atLeast(bp) + loadgen.FormatRate(bp.Summary.Delivered), fmt.Sprintf("%d × %s/s", bp.Subscribers, loadgen.FormatRate(bp.Rate))
	}
	for _, e := range cfg.Engines {
		best, at := pointAt(rep.Best(e))
		bounded, bat := pointAt(rep.BestWithin(e, GoalP99Ms))
		if bat != "" {
			bounded += " (" + bat + ")"
		}
		goal := "not measured"
		if gp := rep.GoalPoint(e); gp != nil && gp.Result != nil {
			goal = fmt.Sprintf("%d, %s", gp.Summary.Lost, loadgen.FormatMs(gp.Summary.P99))
		} else if gp != nil {
			goal = "failed: " + firstLine(gp.Err)
		}
		idle := "not measured"
		if id := rep.IdleOf(e); id != nil && id.Err == "" {
			idle = fmt.Sprintf("%.1f KiB (%d connections)", id.BytesPerConn/1024, id.Held)
		} else if id != nil {
			idle = "failed: " + firstLine(id.Err)
		}
		perDelivery := "n/a"
		if ns := serverNsPerDelivery(rep.Best(e)); ns > 0 {
			perDelivery = fmt.Sprintf("%.0f ns", ns)
		}
		p("| %s | %s | %s | %s | %s | %s | %s |", e, best, at, perDelivery, bounded, goal, idle)
	}
	p("")
	if len(cfg.Engines) >= 2 {
		a, c := rep.Best(cfg.Engines[0]), rep.Best(cfg.Engines[1])
		ratio := "n/a (an engine had no loss-free point)"
		ratioOK := false
		if a != nil && c != nil && c.Summary.Delivered > 0 {
			r := a.Summary.Delivered / c.Summary.Delivered
			ratio = fmt.Sprintf("%s%.2f×", rep.atLeast(a), r)
			ratioOK = r >= GoalRatio
		}
		bounded := "n/a"
		if a, c := rep.BestWithin(cfg.Engines[0], GoalP99Ms), rep.BestWithin(cfg.Engines[1], GoalP99Ms); a != nil && c != nil && c.Summary.Delivered > 0 {
			bounded = fmt.Sprintf("%.2f×", a.Summary.Delivered/c.Summary.Delivered)
		}
		p("**Ratio %s/%s** of the highest loss-free delivery rates: %s (of those with p99 ≤ %d ms: %s).", cfg.Engines[0], cfg.Engines[1], ratio, GoalP99Ms, bounded)
		if na, nc := serverNsPerDelivery(a), serverNsPerDelivery(c); na > 0 && nc > 0 {
			p("At those points the %s server spent %.1f× less CPU per delivery than the %s server (%.0f vs %.0f ns): when",
				cfg.Engines[0], nc/na, cfg.Engines[1], na, nc)
			p("the two processes share the cores, the load generator's share caps the faster engine's rate first.")
		}
		p("")
		p("### Goals (%s engine)", cfg.Engines[0])
		p("")
		e := cfg.Engines[0]
		if id := rep.IdleOf(e); id != nil && id.Err == "" {
			p("- ≤ 8 KiB per idle connection at %d connections: %.1f KiB with %d held — %s.", cfg.IdleConnections, id.BytesPerConn/1024, id.Held,
				check(id.BytesPerConn <= GoalIdleBytes && id.Held >= 10_000))
		} else {
			p("- ≤ 8 KiB per idle connection: not measured.")
		}
		if gp := rep.GoalPoint(e); gp != nil && gp.Result != nil {
			p("- %d subscribers × %s events/s of %d B with no loss and p99 ≤ %d ms: lost %d, p99 %s — %s.", cfg.GoalSubscribers,
				loadgen.FormatRate(cfg.GoalRate), cfg.Payload, GoalP99Ms, gp.Summary.Lost, loadgen.FormatMs(gp.Summary.P99),
				check(gp.Summary.LossFree && gp.Summary.P99 <= GoalP99Ms))
		} else {
			p("- %d × %s events/s: not measured.", cfg.GoalSubscribers, loadgen.FormatRate(cfg.GoalRate))
		}
		p("- ≥ %d× the %s engine's highest loss-free delivery rate: %s — %s.", GoalRatio, cfg.Engines[1], ratio, check(ratioOK))
		p("")
	}
	p("## All points")
	p("")
	p("| engine | subscribers | events/s | offered/s | delivered/s | lost | lagged | p50 | p99 | p99.9 | max | server CPU | client CPU | client hiccup p99 | client read delay p99 | server RSS | verdict |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, pt := range rep.Points {
		s := pt.Summary
		name := pt.Engine
		if pt.Goal {
			name += " (goal)"
		}
		if pt.Result == nil {
			p("| %s | %d | %s | %s | | | | | | | | | | | | | error: %s |", name, pt.Subscribers, loadgen.FormatRate(pt.Rate), loadgen.FormatRate(pt.Offered), firstLine(pt.Err))
			continue
		}
		verdict := "loss-free"
		if !s.LossFree {
			verdict = "lossy"
			if s.Lost == 0 && !s.KeptUp {
				verdict = fmt.Sprintf("publisher behind (mean lag %s)", loadgen.FormatMs(s.PublishLagMean))
			}
		}
		p("| %s | %d | %s | %s | %s | %d | %d | %s | %s | %s | %s | %.2f | %.2f | %s | %s | %s | %s |", name, pt.Subscribers, loadgen.FormatRate(pt.Rate),
			loadgen.FormatRate(pt.Offered), loadgen.FormatRate(s.Delivered), s.Lost, s.Lagged, loadgen.FormatMs(s.P50), loadgen.FormatMs(s.P99),
			loadgen.FormatMs(s.P999), loadgen.FormatMs(s.Max), s.ServerCPU, s.ClientCPU, loadgen.FormatMs(s.HiccupP99), loadgen.FormatMs(s.ReadDelayP99), loadgen.FormatBytes(s.ServerRSS), verdict)
	}
	p("")
	p("Server and client CPU are in cores (%d available in total): when their sum nears that, the machine, not the", runtime.NumCPU())
	p("engine, is the limit. *Client hiccup* is how late the load generator woke from a 1 ms sleep (jHiccup's")
	p("measure): delay the machine adds to every latency in that row, whatever the server does. *Client read delay*")
	p("is how long bytes waited in their socket before the load generator read them, per read: left out of latency.")
	if len(rep.Skipped) > 0 {
		p("")
		p("Skipped (over the %v budget): %s.", cfg.Budget, strings.Join(rep.Skipped, "; "))
	}
	if len(rep.Idle) > 0 {
		p("")
		p("## Memory per idle connection")
		p("")
		p("| engine | connections held | server RSS before | after | per connection | Go heap + stacks per connection |")
		p("|---|---:|---:|---:|---:|---:|")
		for _, id := range rep.Idle {
			if id.Err != "" {
				p("| %s | | | | | error: %s |", id.Engine, firstLine(id.Err))
				continue
			}
			p("| %s | %d | %s | %s | %.0f B (%.1f KiB) | %.0f B (%.1f KiB) |", id.Engine, id.Held, loadgen.FormatBytes(id.RSSBefore), loadgen.FormatBytes(id.RSSAfter),
				id.BytesPerConn, id.BytesPerConn/1024, id.LivePerConn, id.LivePerConn/1024)
		}
		p("")
		p("Per connection = (RSS with the connections held %v − RSS before any) / connections, each reading", cfg.IdleHold)
		p("taken right after the server was asked to collect garbage (`/debug/pprof/heap?gc=1` on its admin")
		p("listener). Kernel socket buffers are not in RSS. The last column is the growth of the Go heap and")
		p("goroutine stacks in use (`go_memstats_heap_inuse_bytes` + `go_memstats_stack_inuse_bytes` from")
		p("`/metrics`): what the connections hold, without the allocator's slack that RSS includes.")
	}
	if len(charts) > 0 {
		p("")
		p("## Charts")
		p("")
		for _, c := range charts {
			p("![%s](%s)", strings.TrimSuffix(c, ".svg"), filepath.ToSlash(filepath.Join(chartsRel, c)))
			p("")
		}
	}
	p("## Reproduce")
	p("")
	p("    make bench-e2e                    # this report")
	p("    ringcast serve --engine ring &    # or one point by hand:")
	p("    ringcast loadgen --subscribers %d --rate %s --duration 30s --server-pid $! --html report.html", cfg.GoalSubscribers, loadgen.FormatRate(cfg.GoalRate))
	_, err := io.WriteString(w, b.String())
	return err
}

// serverNsPerDelivery is the server's CPU time per delivered event at a
// point, in nanoseconds; 0 when unknown.
func serverNsPerDelivery(pt *Point) float64 {
	if pt == nil || pt.Summary.Delivered <= 0 || pt.Summary.ServerCPU <= 0 {
		return 0
	}
	return pt.Summary.ServerCPU * 1e9 / pt.Summary.Delivered
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// atLeast is "≥ " when p is the highest point of a ladder that never lost an
// event (it ran out of points or time): the engine's limit lies above it.
func (rep *Report) atLeast(p *Point) string {
	if slices.Contains(rep.Unbounded, fmt.Sprintf("%s %d", p.Engine, p.Subscribers)) {
		return "≥ "
	}
	return ""
}
