package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ringcast/ringcast/internal/cli"
	"github.com/ringcast/ringcast/internal/e2e"
)

const e2eSummary = `Run ringcast serve with each engine (ring, then chan) as a subprocess on loopback,
drive it with the load generator at a ladder of load points, and write the report:
each engine's highest loss-free delivery rate, the ratio between them, the server's
memory per idle connection (10,000 connections), the 1000 × 1000 events/s goal
point, a churn point (subscribers resuming with Last-Event-ID: loss, descriptors
held against connections live), and charts. A fresh server serves every point; its RSS and CPU come from
/proc. Bounded by --budget (several minutes with the defaults). make bench-e2e runs it.

The cluster ladder: --engines entries ring-nats (one ring node through NATS JetStream:
serve --nats-embedded on a fresh store and a free NATS port) and ring-nats-<n>nodes
(n-1 more nodes joining it with --nats, the load spread over all) climb the same
ladders; the report gives their highest loss-free delivery rate as a share of the
standalone ring's, their goal point and the publish round trip. Leave them out of
--engines (--engines ring,chan) to skip the cluster.`

func runE2E(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("e2e", e2eSummary, stderr)
	var c e2e.Config
	fs.StringVar(&c.Binary, "binary", "", "ringcast binary to run as the server (default: this one)")
	serveArgs := fs.String("serve-args", "", "extra flags for every ringcast serve, space-separated")
	engines := fs.String("engines", "ring,chan,ring-nats,ring-nats-2nodes", "engines to compare, the first over the second; then the cluster setups:\nring-nats (one node, embedded NATS, its CPU and RSS included) and\nring-nats-<n>nodes, each compared with ring")
	subs := fs.String("subscribers", "100,1000", "subscriber counts of the load ladders")
	fs.Float64Var(&c.StartDeliveries, "start-deliveries", 100_000, "first point of each ladder in deliveries/s (subscribers × rate); doubled per point")
	fs.IntVar(&c.MaxPoints, "max-points", 8, "most doublings per ladder")
	fs.IntVar(&c.Bisections, "bisections", 2, "points that halve the interval between a ladder's last loss-free and first lossy load (negative: none)")
	fs.IntVar(&c.GoalSubscribers, "goal-subscribers", 1000, "subscribers of the goal point")
	fs.Float64Var(&c.GoalRate, "goal-rate", 1000, "events/s of the goal point")
	fs.DurationVar(&c.PointDuration, "point-duration", 4*time.Second, "measured phase of each point")
	fs.IntVar(&c.Payload, "payload", 128, "bytes of data per event")
	fs.IntVar(&c.IdleConnections, "idle-connections", 10_000, "connections held to measure memory per idle connection")
	fs.DurationVar(&c.IdleHold, "idle-hold", 3*time.Second, "how long the idle connections are held before the memory is read")
	fs.Float64Var(&c.ConnectRate, "connect-rate", 5000, "subscriber connections opened per second")
	// The churn point (issue 14): departures noticed at once, resumes without loss.
	fs.IntVar(&c.ChurnSubscribers, "churn-subscribers", 2000, "subscribers of the churn point, of which --churn-fraction reconnect; negative: no churn point")
	fs.Float64Var(&c.ChurnRate, "churn-rate", 100, "events/s of the churn point (one topic: every subscriber gets each)")
	fs.DurationVar(&c.ChurnDuration, "churn-duration", 10*time.Second, "measured phase of each of the churn point's two runs")
	fs.Float64Var(&c.ChurnFraction, "churn-fraction", 0.5, "fraction of the churn point's subscribers that leave and resume with Last-Event-ID")
	fs.DurationVar(&c.ChurnEvery, "churn-every", time.Second, "mean connection lifetime of a churning subscriber (0.5-1.5×): reconnects/s = subscribers × fraction / this")
	fs.DurationVar(&c.Budget, "budget", 15*time.Minute, "time limit of the whole run; later points are skipped and listed")
	out := fs.String("out", "docs/e2e.md", "Markdown report to write (\"-\": stdout)")
	chartsDir := fs.String("charts-dir", "", "directory of the SVG charts (default: <out without .md>/, e.g. docs/e2e/)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.ServeArgs = strings.Fields(*serveArgs)
	c.Engines = e2eSplitList(*engines)
	for _, s := range e2eSplitList(*subs) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("--subscribers: %q is not a positive count", s)
		}
		c.Subscribers = append(c.Subscribers, n)
	}
	c.Progress = stderr
	c.ProgressTTY = loadgenIsTerminal(stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := e2e.Run(ctx, c)
	if err != nil {
		return err
	}
	if *out == "-" {
		return rep.WriteMarkdown(stdout, "", nil)
	}
	dir := *chartsDir
	if dir == "" {
		dir = strings.TrimSuffix(*out, filepath.Ext(*out))
	}
	// The report as data, beside its charts: what ringcast-report draws
	// them from.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	jsonPath := filepath.Join(dir, "report.json")
	if err := writeOutput(jsonPath, stdout, rep.WriteJSON); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(*out), dir)
	if err != nil {
		rel = dir
	}
	if err := writeOutput(*out, stdout, func(w io.Writer) error { return rep.WriteMarkdown(w, rel, e2e.ChartFiles) }); err != nil {
		return err
	}
	if err := runReportTool(ctx, io.Discard, stderr, "e2e", "--in", absPath(jsonPath), "--charts-dir", absPath(dir)); err != nil {
		return fmt.Errorf("wrote %s, but not its charts: %v", *out, err)
	}
	fmt.Fprintf(stdout, "wrote %s and %d charts in %s\n", *out, len(e2e.ChartFiles), dir)
	return nil
}

func e2eSplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
