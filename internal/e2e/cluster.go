package e2e

// Cluster setups: the ring engine through NATS JetStream (docs/cluster.md),
// climbed by the same ladder as the standalone engines and compared with the
// standalone ring of the same run. They are entries of Config.Engines:
// "ring-nats" is one `ringcast serve --engine ring --nats-embedded` node,
// "ring-nats-<n>nodes" adds n-1 nodes that join its NATS server with --nats.
//
// Invariants:
//
//	K1. Every point of a cluster setup starts fresh processes on a fresh
//	    JetStream store (a new temporary directory, removed after the point)
//	    and a NATS client port picked free on 127.0.0.1 (never the default
//	    4222): no point inherits a stream or another point's events, and a
//	    run beside `make cluster` neither joins nor disturbs it.
//	K2. The first node holds the embedded NATS server and is stopped last:
//	    the other nodes leave while their log is still up.
//	K3. A cluster point's server CPU and RSS are the sums over its nodes
//	    (loadgen.Config.ServerPIDs), the first node's including the embedded
//	    NATS server's work (its JetStream file store, the acknowledgements),
//	    so that CPU per delivery compares with a single server's; its
//	    /metrics counters are the first node's.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ringcast/ringcast/internal/report"
)

// ClusterEngine names the one-node cluster setup in Config.Engines; the
// n-node setup is ClusterEngine+"-<n>nodes".
const ClusterEngine = "ring-nats"

// Goals of the cluster setups (issue 15).
const (
	GoalClusterShare    = 0.75 // highest loss-free deliveries/s over the standalone ring's
	GoalClusterP99Ms    = 30   // one node at the goal point, with no loss
	GoalPublishRTTP99Ms = 6    // publish round trip p99 at the goal point
)

// ErrEngine is returned by Run for an entry of Config.Engines that names no
// engine and no cluster setup it knows how to start.
var ErrEngine = errors.New("e2e: unknown engine")

// ClusterNodes reports how many nodes an entry of Config.Engines stands
// for: 0 for a standalone engine (ring, chan), 1 for "ring-nats", n for
// "ring-nats-<n>nodes".
func ClusterNodes(engine string) (int, error) {
	rest, ok := strings.CutPrefix(engine, ClusterEngine)
	if !ok {
		return 0, nil
	}
	if rest == "" {
		return 1, nil
	}
	digits, ok := strings.CutSuffix(strings.TrimPrefix(rest, "-"), "nodes")
	n, err := strconv.Atoi(digits)
	if !ok || !strings.HasPrefix(rest, "-") || err != nil || n < 1 {
		return 0, fmt.Errorf("%w %q: a cluster setup is %s or %s-<n>nodes", ErrEngine, engine, ClusterEngine, ClusterEngine)
	}
	return n, nil
}

func isCluster(engine string) bool {
	n, _ := ClusterNodes(engine)
	return n > 0
}

// setup is what serves one point: a standalone server, or a cluster's nodes
// and their store.
type setup struct {
	nodes []*server
	store string // the JetStream store of a cluster setup, removed by stop
}

// startSetup starts what engine names (K1).
func startSetup(ctx context.Context, cfg *Config, engine string) (*setup, error) {
	n, err := ClusterNodes(engine)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		srv, err := startServer(ctx, cfg, engine)
		if err != nil {
			return nil, err
		}
		return &setup{nodes: []*server{srv}}, nil
	}
	store, err := os.MkdirTemp("", "ringcast-e2e-nats-")
	if err != nil {
		return nil, fmt.Errorf("%w: a JetStream store: %v", errServerStart, err)
	}
	st := &setup{store: store}
	natsAddr, err := freePort()
	if err != nil {
		st.stop()
		return nil, fmt.Errorf("%w: a NATS port: %v", errServerStart, err)
	}
	first, err := startServer(ctx, cfg, "ring", "--nats-embedded", "--nats-store", store, "--nats-listen", natsAddr)
	if err != nil {
		st.stop()
		return nil, err
	}
	st.nodes = append(st.nodes, first)
	for range n - 1 {
		node, err := startServer(ctx, cfg, "ring", "--nats", "nats://"+natsAddr)
		if err != nil {
			st.stop()
			return nil, err
		}
		st.nodes = append(st.nodes, node)
	}
	return st, nil
}

// stop stops the nodes, the first (with NATS) last (K2), and removes the
// store.
func (st *setup) stop() {
	for i := len(st.nodes) - 1; i >= 0; i-- {
		st.nodes[i].stop()
	}
	if st.store != "" {
		os.RemoveAll(st.store)
	}
}

func (st *setup) urls() []string {
	out := make([]string, len(st.nodes))
	for i, n := range st.nodes {
		out[i] = n.url
	}
	return out
}

// ClusterResult is what the report says of one cluster setup, computed from
// its points at the end of Run and kept in the JSON report.
type ClusterResult struct {
	Engine string `json:"engine"`
	Nodes  int    `json:"nodes"`
	// Best is the highest loss-free deliveries/s (0: no loss-free point),
	// at BestSubscribers × BestRate; BestLowerBound: that ladder never lost
	// an event, so the limit lies above.
	Best            float64 `json:"best_deliveries_per_sec"`
	BestSubscribers int     `json:"best_subscribers,omitempty"`
	BestRate        float64 `json:"best_rate,omitempty"`
	BestLowerBound  bool    `json:"best_lower_bound,omitempty"`
	// BestPublishRTTP99 is the publish round trip's p99 at the best point (ms).
	BestPublishRTTP99 float64 `json:"best_publish_rtt_p99_ms,omitempty"`
	// Standalone is the standalone ring engine's highest loss-free
	// deliveries/s in the same run (0: none), and Ratio is Best over it (0:
	// either is missing).
	Standalone           float64 `json:"standalone_ring_deliveries_per_sec"`
	StandaloneLowerBound bool    `json:"standalone_lower_bound,omitempty"`
	Ratio                float64 `json:"ratio_to_standalone_ring"`
	// Goal is the goal point's summary (nil: not measured); GoalErr why it
	// failed, if it did.
	Goal    *PointSummary `json:"goal_point,omitempty"`
	GoalErr string        `json:"goal_error,omitempty"`
}

// clusterResults summarizes every cluster setup of the run against the
// standalone ring engine.
func (rep *Report) clusterResults() []ClusterResult {
	var out []ClusterResult
	ring := rep.Best("ring")
	for _, e := range rep.Config.Engines {
		n, _ := ClusterNodes(e)
		if n == 0 {
			continue
		}
		c := ClusterResult{Engine: e, Nodes: n}
		if b := rep.Best(e); b != nil {
			c.Best, c.BestSubscribers, c.BestRate = b.Summary.Delivered, b.Subscribers, b.Rate
			c.BestLowerBound = rep.atLeast(b) != ""
			c.BestPublishRTTP99 = b.Summary.PublishRTTP99
		}
		if ring != nil {
			c.Standalone, c.StandaloneLowerBound = ring.Summary.Delivered, rep.atLeast(ring) != ""
			if c.Best > 0 && c.Standalone > 0 {
				c.Ratio = c.Best / c.Standalone
			}
		}
		if gp := rep.GoalPoint(e); gp != nil && gp.Measured() {
			s := gp.Summary
			c.Goal = &s
		} else if gp != nil {
			c.GoalErr = gp.Err
		}
		out = append(out, c)
	}
	return out
}

// writeCluster writes the cluster section from rep.Cluster.
func (rep *Report) writeCluster(p func(string, ...any)) {
	cfg := &rep.Config
	p("## Cluster: the ring engine through NATS JetStream")
	p("")
	p("`%s` is one `ringcast serve --engine ring --nats-embedded --nats-store <fresh dir> --nats-listen 127.0.0.1:<free port>`:", ClusterEngine)
	p("the node runs a NATS server with JetStream (file store) in its own process, appends every published batch to")
	p("the stream (%s), answers once JetStream acknowledged it, and follows the stream", batchMode(cfg.ServeArgs))
	p("back into its ring, from which the subscribers read (docs/cluster.md). `%s-<n>nodes` adds n−1 nodes that", ClusterEngine)
	p("join it with `--nats nats://127.0.0.1:<port>`: subscriber *i* streams from node *i* mod n, and the publisher")
	p("posts each batch to the next node in turn. Every point starts fresh nodes on a fresh store, like the other points.")
	p("**Server CPU and RSS are summed over the nodes, and include the embedded NATS server** (its file store, the")
	p("acknowledgements, the followers' reads). The publish round trip is each")
	p("accepted publish call's, from the request to its answer: in cluster mode, JetStream's acknowledgement.")
	p("")
	p("| setup | highest loss-free deliveries/s | at | share of the standalone ring's | publish rtt p99 there | %d × %s/s: lost, p99 | … publish rtt p50 / p99 |",
		cfg.GoalSubscribers, report.Rate(cfg.GoalRate))
	p("|---|---:|---|---:|---:|---|---:|")
	for _, c := range rep.Cluster {
		best, at, rtt := "none", "", ""
		if c.Best > 0 {
			best = lowerBound(c.BestLowerBound) + report.Rate(c.Best)
			at = fmt.Sprintf("%d × %s/s", c.BestSubscribers, report.Rate(c.BestRate))
			rtt = report.Ms(c.BestPublishRTTP99)
		}
		goal, goalRTT := "not measured", ""
		if c.Goal != nil {
			goal = fmt.Sprintf("%d, %s", c.Goal.Lost, report.Ms(c.Goal.P99))
			goalRTT = report.Ms(c.Goal.PublishRTTP50) + " / " + report.Ms(c.Goal.PublishRTTP99)
		} else if c.GoalErr != "" {
			goal = "failed: " + firstLine(c.GoalErr)
		}
		p("| %s (%s) | %s | %s | %s | %s | %s | %s |", c.Engine, report.Plural(c.Nodes, "node"), best, at, c.share(), rtt, goal, goalRTT)
	}
	p("")
	p("### Goals (cluster)")
	p("")
	for _, c := range rep.Cluster {
		p("- %s: highest loss-free deliveries/s ≥ %.0f%% of the standalone ring's: %s — %s.", c.Engine, GoalClusterShare*100, c.share(),
			check(c.Ratio >= GoalClusterShare))
		if c.Goal == nil {
			p("- %s: %d × %s events/s: not measured.", c.Engine, cfg.GoalSubscribers, report.Rate(cfg.GoalRate))
			continue
		}
		if c.Nodes == 1 {
			p("- %s: %d subscribers × %s events/s of %d B with no loss and p99 ≤ %d ms: lost %d, p99 %s — %s.", c.Engine, cfg.GoalSubscribers,
				report.Rate(cfg.GoalRate), cfg.Payload, GoalClusterP99Ms, c.Goal.Lost, report.Ms(c.Goal.P99),
				check(c.Goal.LossFree && c.Goal.P99 <= GoalClusterP99Ms))
		} else {
			p("- %s: %d subscribers × %s events/s of %d B with no loss: lost %d (p99 %s) — %s.", c.Engine, cfg.GoalSubscribers,
				report.Rate(cfg.GoalRate), cfg.Payload, c.Goal.Lost, report.Ms(c.Goal.P99), check(c.Goal.LossFree))
		}
		p("- %s: publish round trip p99 ≤ %d ms at that point: %s — %s.", c.Engine, GoalPublishRTTP99Ms, report.Ms(c.Goal.PublishRTTP99),
			check(c.Goal.PublishRTTP99 > 0 && c.Goal.PublishRTTP99 <= GoalPublishRTTP99Ms))
	}
}

// batchMode says how the nodes append a publish call's batch, from the
// flags every serve got.
func batchMode(serveArgs []string) string {
	if slices.Contains(serveArgs, "--nats-pipelined-batches") {
		return "each event of a publish call a message of its own, all in flight at once: `--nats-pipelined-batches`"
	}
	return "one atomic batch per publish call"
}

// share is Best over the standalone ring's as text: "81% (6.40M of 7.90M)".
func (c *ClusterResult) share() string {
	switch {
	case c.Standalone == 0:
		return "n/a (no standalone ring point)"
	case c.Best == 0:
		return "n/a (no loss-free point)"
	}
	s := fmt.Sprintf("%.0f%% (%s%s of %s%s)", c.Ratio*100, lowerBound(c.BestLowerBound), report.Rate(c.Best),
		lowerBound(c.StandaloneLowerBound), report.Rate(c.Standalone))
	// A ladder that never lost an event only bounds its limit from below.
	switch {
	case c.StandaloneLowerBound && !c.BestLowerBound:
		s += ", at most"
	case c.BestLowerBound && !c.StandaloneLowerBound:
		s += ", at least"
	}
	return s
}

func lowerBound(b bool) string {
	if b {
		return "≥ "
	}
	return ""
}
