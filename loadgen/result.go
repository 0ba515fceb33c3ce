package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ringcast/ringcast/internal/report"
)

// Result is what one run measured. Every count is over the measured phase
// (warm-up events are not counted); latencies are from each event's intended
// send time to the moment it reached a subscriber's socket (the kernel's
// receive timestamp, with the epoll reader) or, where that is not known, was read.
type Result struct {
	Scenario string        `json:"scenario"`
	Target   string        `json:"target"`
	Started  time.Time     `json:"started"`
	Measured time.Duration `json:"measured_ns"`
	Config   ConfigSummary `json:"config"`

	Subscribers   int `json:"subscribers"`
	PeakConnected int `json:"peak_connected"`
	// Ready is how many subscribers had received a warm-up event (idle: had
	// connected) when measurement began.
	Ready int `json:"ready"`

	Published     int64    `json:"published"`
	PublishFailed int64    `json:"publish_failed"`
	PublishCalls  int64    `json:"publish_calls"`
	PublishErrors []string `json:"publish_errors,omitempty"`
	// PublishRate is the rate events were actually handed to the server.
	PublishRate float64 `json:"publish_rate"`
	// PublishLagMaxMs is how far behind its schedule the publisher fell at
	// worst (the server's publish endpoint was slower than the rate).
	PublishLagMaxMs float64 `json:"publish_lag_max_ms"`
	// PublishRTT is the round trip of each publish call the server
	// accepted, from the request to its answer: what a publishing
	// application waits for (in cluster mode, the log's acknowledgement).
	PublishRTT Latency `json:"publish_rtt"`
	// PublishLagMeanMs is the mean over events of how late each was handed
	// to the server: small when the schedule was kept, growing with the run
	// when the server accepts events slower than the rate.
	PublishLagMeanMs float64 `json:"publish_lag_mean_ms"`

	Expected  int64 `json:"expected"`
	Delivered int64 `json:"delivered"`
	// Lost = Expected - Delivered.
	Lost             int64   `json:"lost"`
	GapEvents        int64   `json:"gap_events"`
	SilentGapEvents  int64   `json:"silent_gap_events"`
	Duplicates       int64   `json:"duplicates"`
	Foreign          int64   `json:"foreign"`
	Lagged           int64   `json:"lagged"`
	Skipped          int64   `json:"skipped"`
	Resets           int64   `json:"resets"`
	Reconnects       int64   `json:"reconnects"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`

	Latency        Latency       `json:"latency"`
	LatencyClamped int64         `json:"latency_clamped,omitempty"`
	Classes        []ClassResult `json:"classes"`
	ConnectLatency Latency       `json:"connect_latency"`

	Errors       map[string]int64 `json:"errors,omitempty"`
	ErrorSamples []string         `json:"error_samples,omitempty"`

	Server   *ServerStats     `json:"server,omitempty"`
	Client   ClientStats      `json:"client"`
	Idle     *IdleResult      `json:"idle,omitempty"`
	Profiles []ProfileSummary `json:"profiles,omitempty"`

	Series        []SeriesPoint   `json:"series"`
	LatencySeries []LatencyPoint  `json:"latency_series"`
	Spectrum      []SpectrumPoint `json:"spectrum"`
}

// ConfigSummary is the part of the configuration a reader needs to interpret
// the figures.
type ConfigSummary struct {
	Subscribers int     `json:"subscribers"`
	Rate        float64 `json:"rate"`
	Duration    string  `json:"duration"`
	Payload     int     `json:"payload"`
	Topics      int     `json:"topics"`
	AllTopics   bool    `json:"all_topics,omitempty"`
	Publisher   string  `json:"publisher"`
	Special     string  `json:"special,omitempty"`
}

func summarizeConfig(c *Config) ConfigSummary {
	cs := ConfigSummary{
		Subscribers: c.Subscribers, Rate: c.Rate, Duration: c.Duration.String(),
		Payload: c.Payload, Topics: c.Topics, AllTopics: c.AllTopics,
	}
	switch {
	case c.Publisher != nil:
		cs.Publisher = fmt.Sprintf("%T", c.Publisher)
	case c.PublishCmd != "":
		cs.Publisher = "command"
	case c.PublishBody != "":
		cs.Publisher = "POST template " + c.PublishURL
	case c.PublishJSON:
		cs.Publisher = "POST json " + c.PublishURL
	default:
		cs.Publisher = "POST ndjson " + c.PublishURL
	}
	switch c.Scenario {
	case ScenarioSlow:
		cs.Special = fmt.Sprintf("%.0f%% %s (%d B every %v)", 100*c.SlowFraction, c.SlowMode, c.SlowReadBytes, c.SlowReadInterval)
		if c.SlowMode == "stall" {
			cs.Special = fmt.Sprintf("%.0f%% stall", 100*c.SlowFraction)
		}
	case ScenarioChurn:
		cs.Special = fmt.Sprintf("%.0f%% reconnect every ~%v", 100*c.ChurnFraction, c.ChurnEvery)
	case ScenarioBurst:
		cs.Special = fmt.Sprintf("bursts of %d every %v", max(1, int64(c.Rate*c.BurstEvery.Seconds()+0.5)), c.BurstEvery)
	}
	return cs
}

// ClassResult is the accounting of one class of subscribers: "steady", and
// "slow" or "churn" in those scenarios.
type ClassResult struct {
	Name        string `json:"name"`
	Subscribers int    `json:"subscribers"`
	Expected    int64  `json:"expected"`
	Delivered   int64  `json:"delivered"`
	Lost        int64  `json:"lost"`
	Duplicates  int64  `json:"duplicates"`
	// Gaps is how many times a sequence jumped; GapEvents how many events the
	// jumps skipped; SilentGapEvents those not announced by a lagged or reset
	// event first (loss the server did not tell the client about).
	// SkippedPending is the part of Skipped (the sum of the lagged notices'
	// counts) announced by notices that no measured event followed before
	// the run ended: gaps not in GapEvents. Where every gap follows a lagged
	// notice (no resets) and each subscriber follows one topic, a server
	// whose counts are exact gives GapEvents = Skipped - SkippedPending.
	Gaps            int64 `json:"gaps"`
	GapEvents       int64 `json:"gap_events"`
	SilentGapEvents int64 `json:"silent_gap_events"`
	SkippedPending  int64 `json:"skipped_pending,omitempty"`
	// SubscribersLosing is how many subscribers lost anything; MaxLost the
	// most one subscriber lost.
	SubscribersLosing int     `json:"subscribers_losing"`
	MaxLost           int64   `json:"max_lost"`
	Lagged            int64   `json:"lagged"`
	Skipped           int64   `json:"skipped"`
	Resets            int64   `json:"resets"`
	ResetMissed       int64   `json:"reset_missed"`
	Reconnects        int64   `json:"reconnects"`
	Churns            int64   `json:"churns"`
	Disconnects       int64   `json:"disconnects"`
	Latency           Latency `json:"latency"`
}

// ServerStats is the server process as seen from outside.
type ServerStats struct {
	Source   string  `json:"source"`
	CPUCores float64 `json:"cpu_cores"`
	RSSStart int64   `json:"rss_start"`
	RSSEnd   int64   `json:"rss_end"`
	RSSPeak  int64   `json:"rss_peak"`
	// The server's open descriptors before the subscribers connected, at the
	// end and at most (-1: unknown). HeldOverLive is, over the measured
	// phase's samples, by how much the descriptors the run added exceeded
	// the subscribers' sockets open at that moment, at worst (max) and at
	// the last sample (end), as a fraction: 0.05 is 5% more held than live.
	// The publisher's and the scrapes' connections count as held.
	FDsStart     int64          `json:"fds_start"`
	FDsEnd       int64          `json:"fds_end"`
	FDsPeak      int64          `json:"fds_peak"`
	HeldOverLive float64        `json:"held_over_live_max"`
	HeldOverEnd  float64        `json:"held_over_live_end"`
	Counters     []CounterDelta `json:"counters,omitempty"`
	Error        string         `json:"error,omitempty"`
}

// ClientStats is the load generator's own cost: if it is near a core, the
// client may be the bottleneck.
type ClientStats struct {
	CPUCores   float64 `json:"cpu_cores"`
	RSS        int64   `json:"rss"`
	Goroutines int     `json:"goroutines"`
	// Reader is how steady subscribers read (Config.Reader); with "epoll",
	// EventLoops is the number of loops and LoopStreams the streams (one per
	// connection, reconnects included) they read.
	Reader      string `json:"reader"`
	EventLoops  int    `json:"event_loops,omitempty"`
	LoopStreams int64  `json:"loop_streams,omitempty"`
	// Hiccup is how late the client woke from 1 ms sleeps during the
	// measured phase: a lower bound on the delay the machine (not the
	// server) adds to every latency measured.
	Hiccup Latency `json:"hiccup"`
	// ReadDelay (epoll reader) is how long bytes waited in their socket for
	// the load generator to read them, per read of the measured phase: its
	// own delay, which the latency leaves out (it ends at the kernel's
	// receive timestamp).
	ReadDelay Latency `json:"read_delay"`
}

// IdleResult is the idle scenario's memory accounting.
type IdleResult struct {
	Connections     int     `json:"connections"`
	ConnectionsHeld int     `json:"connections_held"`
	RSSBefore       int64   `json:"rss_before"`
	RSSAfter        int64   `json:"rss_after"`
	BytesPerConn    float64 `json:"bytes_per_conn"`
	// Live is the server's Go heap plus stacks in use (from its metrics,
	// after a GC when IdleGC): what the connections hold, without RSS's slack.
	LiveBefore       int64   `json:"live_before,omitempty"`
	LiveAfter        int64   `json:"live_after,omitempty"`
	LiveBytesPerConn float64 `json:"live_bytes_per_conn,omitempty"`
}

// SeriesPoint is one progress interval.
type SeriesPoint struct {
	AtSec       float64 `json:"at_sec"` // since the run started
	Phase       string  `json:"phase"`
	Connected   int64   `json:"connected"`
	Sockets     int64   `json:"sockets"` // Connected, and those dialled awaiting their response head
	PublishedPS float64 `json:"published_per_sec"`
	DeliveredPS float64 `json:"delivered_per_sec"`
	ServerCPU   float64 `json:"server_cpu_cores"` // -1: unknown
	ServerRSS   int64   `json:"server_rss"`
	ServerFDs   int64   `json:"server_fds"` // -1: unknown
	ClientCPU   float64 `json:"client_cpu_cores"`
	GapEvents   int64   `json:"gap_events"`
	IntervalP99 float64 `json:"p99_ms"`
}

// LatencyPoint is the latency of the events intended to be sent in one interval.
type LatencyPoint struct {
	AtSec float64 `json:"at_sec"` // since the measured phase started
	Latency
}

// SpectrumPoint is one point of the percentile spectrum.
type SpectrumPoint struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// LossFree reports whether every expected event reached every steady
// subscriber exactly once, and the publisher got every event accepted.
func (r *Result) LossFree() bool {
	if r.PublishFailed > 0 || r.Expected == 0 {
		return false
	}
	for _, c := range r.Classes {
		if c.Name == "steady" && (c.Lost != 0 || c.Duplicates != 0 || c.GapEvents != 0) {
			return false
		}
	}
	return true
}

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the final table.
func (r *Result) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	c := r.Config
	p("scenario\t%s\t%s", r.Scenario, c.Special)
	p("target\t%s", r.Target)
	if r.Idle != nil {
		p("load\t%d idle subscribers held for %s", c.Subscribers, c.Duration)
	} else {
		p("load\t%d subscribers, %s events/s × %dB over %d topic(s) for %s (measured %s)",
			c.Subscribers, report.Rate(c.Rate), c.Payload, c.Topics, c.Duration, r.Measured.Round(time.Millisecond))
	}
	p("connections\t%d peak of %d, %d ready; connect p50 %s p99 %s max %s",
		r.PeakConnected, r.Subscribers, r.Ready, report.Ms(r.ConnectLatency.P50Ms), report.Ms(r.ConnectLatency.P99Ms), report.Ms(r.ConnectLatency.MaxMs))
	if r.Idle == nil {
		p("published\t%d accepted, %d failed in %d calls; %s/s achieved, schedule lag mean %s, worst %s",
			r.Published, r.PublishFailed, r.PublishCalls, report.Rate(r.PublishRate), report.Ms(r.PublishLagMeanMs), report.Ms(r.PublishLagMaxMs))
		p("publish rtt\tp50 %s  p99 %s  max %s  (n=%d accepted calls)",
			report.Ms(r.PublishRTT.P50Ms), report.Ms(r.PublishRTT.P99Ms), report.Ms(r.PublishRTT.MaxMs), r.PublishRTT.Count)
		p("delivered\t%d of %d expected (%s/s); lost %d, gaps %d (silent %d), duplicates %d",
			r.Delivered, r.Expected, report.Rate(r.DeliveriesPerSec), r.Lost, r.GapEvents, r.SilentGapEvents, r.Duplicates)
		if r.Lost > 0 && len(r.Classes) == 1 {
			p("\tloss in %d of %d subscribers, at most %d in one", r.Classes[0].SubscribersLosing, r.Subscribers, r.Classes[0].MaxLost)
		}
		var pending int64
		for _, cl := range r.Classes {
			pending += cl.SkippedPending
		}
		skipped := strconv.FormatInt(r.Skipped, 10)
		if pending > 0 {
			skipped += fmt.Sprintf(", %d of them after the last event", pending)
		}
		p("notices\tlagged %d (skipped %s), reset %d, reconnects %d, foreign events %d",
			r.Lagged, skipped, r.Resets, r.Reconnects, r.Foreign)
		p("latency\tp50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (n=%d)",
			report.Ms(r.Latency.P50Ms), report.Ms(r.Latency.P90Ms), report.Ms(r.Latency.P99Ms), report.Ms(r.Latency.P999Ms), report.Ms(r.Latency.MaxMs), r.Latency.Count)
		if len(r.Classes) > 1 {
			for _, cl := range r.Classes {
				if cl.Subscribers == 0 {
					continue
				}
				p("  %s (%d)\tdelivered %d/%d lost %d (%d subscribers, at most %d each) silent %d lagged %d reset %d reconnects %d; p50 %s p99 %s max %s",
					cl.Name, cl.Subscribers, cl.Delivered, cl.Expected, cl.Lost, cl.SubscribersLosing, cl.MaxLost, cl.SilentGapEvents, cl.Lagged, cl.Resets, cl.Reconnects,
					report.Ms(cl.Latency.P50Ms), report.Ms(cl.Latency.P99Ms), report.Ms(cl.Latency.MaxMs))
			}
		}
	}
	if r.Idle != nil {
		p("idle\t%d connections held; server RSS %s -> %s: %s per connection",
			r.Idle.ConnectionsHeld, report.Bytes(r.Idle.RSSBefore), report.Bytes(r.Idle.RSSAfter), report.Bytes(int64(r.Idle.BytesPerConn)))
		if r.Idle.LiveAfter > 0 {
			p("\tGo heap + stacks in use %s -> %s: %s per connection",
				report.Bytes(r.Idle.LiveBefore), report.Bytes(r.Idle.LiveAfter), report.Bytes(int64(r.Idle.LiveBytesPerConn)))
		}
	}
	if s := r.Server; s != nil {
		if s.Error != "" {
			p("server\t%s: %s", s.Source, s.Error)
		} else {
			p("server\tCPU %.2f cores, RSS %s -> %s (peak %s)  [%s]", s.CPUCores, report.Bytes(s.RSSStart), report.Bytes(s.RSSEnd), report.Bytes(s.RSSPeak), s.Source)
			if s.FDsStart >= 0 && s.FDsEnd >= 0 {
				p("\tdescriptors %d -> %d (peak %d); held over the subscribers' sockets open: at worst %+.1f%%, at the end %+.1f%%",
					s.FDsStart, s.FDsEnd, s.FDsPeak, 100*s.HeldOverLive, 100*s.HeldOverEnd)
			}
		}
		for i, cd := range s.Counters {
			if i == 8 {
				p("  \t... %d more counters in --json", len(s.Counters)-8)
				break
			}
			p("  \t%s +%g", cd.Series, cd.Delta)
		}
	} else {
		p("server\tno statistics (give --server-pid or a /metrics URL)")
	}
	reader := r.Client.Reader
	if r.Client.EventLoops > 0 {
		reader = fmt.Sprintf("%s (%d loops)", reader, r.Client.EventLoops)
	}
	p("client\tCPU %.2f cores, RSS %s, %d goroutines, reader %s; hiccups (late wake-ups of a 1 ms sleep) p50 %s p99 %s max %s",
		r.Client.CPUCores, report.Bytes(r.Client.RSS), r.Client.Goroutines, reader,
		report.Ms(r.Client.Hiccup.P50Ms), report.Ms(r.Client.Hiccup.P99Ms), report.Ms(r.Client.Hiccup.MaxMs))
	if rd := r.Client.ReadDelay; rd.Count > 0 {
		p("\tread delay (arrival in the socket to read, left out of latency) p50 %s p99 %s max %s over %d reads",
			report.Ms(rd.P50Ms), report.Ms(rd.P99Ms), report.Ms(rd.MaxMs), rd.Count)
	}
	if len(r.Errors) > 0 {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, r.Errors[k]))
		}
		p("errors\t%s", strings.Join(parts, ", "))
		for _, e := range r.ErrorSamples {
			p("  \t%s", e)
		}
	}
	for _, e := range r.PublishErrors {
		p("publish error\t%s", e)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, ps := range r.Profiles {
		writeProfileText(w, ps)
	}
	return nil
}

func writeProfileText(w io.Writer, ps ProfileSummary) {
	if ps.Error != "" {
		fmt.Fprintf(w, "\nserver %s profile: %s\n", ps.Kind, ps.Error)
		return
	}
	if ps.Unit == "" { // not summarised (see ProfileSummary)
		fmt.Fprintf(w, "\nserver %s profile (%s)", ps.Kind, ps.SampleType)
	} else {
		fmt.Fprintf(w, "\nserver %s profile (%s, total %s)", ps.Kind, ps.SampleType, report.ProfileValue(ps.Total, ps.Unit))
	}
	if ps.Saved != "" {
		fmt.Fprintf(w, " saved to %s", ps.Saved)
	}
	fmt.Fprintln(w)
	if len(ps.TopFlat)+len(ps.TopCum) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "flat%\tcum%\t\tby flat\t\tflat%\tcum%\t\tby cum\t")
	for i := 0; i < max(len(ps.TopFlat), len(ps.TopCum)); i++ {
		var a, b FuncShare
		if i < len(ps.TopFlat) {
			a = ps.TopFlat[i]
		}
		if i < len(ps.TopCum) {
			b = ps.TopCum[i]
		}
		fmt.Fprintf(tw, "%.1f\t%.1f\t\t%s\t\t%.1f\t%.1f\t\t%s\t\n", a.FlatPct, a.CumPct, tableFunc(a.Function), b.FlatPct, b.CumPct, tableFunc(b.Function))
	}
	tw.Flush()
}

// tableFunc is a function's name as the profile table shows it.
func tableFunc(name string) string {
	name = report.ShortFunc(name)
	if len(name) > 60 {
		name = name[:57] + "..."
	}
	return name
}
