package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ringcast/ringcast/internal/cli"
	"github.com/ringcast/ringcast/internal/report/proftop"
	"github.com/ringcast/ringcast/loadgen"
)

const loadgenSummary = `Drive an SSE server over real sockets and report, honestly, what the subscribers
received and when. The publisher runs open loop on a fixed schedule and every
event carries its intended send time, so latency includes any stall of the
server (no coordinated omission). Works with any SSE server given its stream URL
and a publish URL, body template or command; ringcast's /publish is the default.

Scenarios: steady, burst (the same rate in bursts), slow (a fraction of the
subscribers read slowly or stall; the others are reported apart), churn (a
fraction reconnect with Last-Event-ID; loss inside the server's window must be
zero) and idle (connections only: the server's memory per connection).

Example:
  ringcast loadgen --url http://127.0.0.1:8080 --subscribers 1000 --rate 1000 \
      --duration 30s --server-pid $(pgrep -n ringcast) --html report.html`

func runLoadgen(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("loadgen", loadgenSummary, stderr)
	var c loadgen.Config
	urls := urlList{urls: []string{"http://127.0.0.1:8080"}}
	fs.Var(&urls, "url", "server base `URL`; the stream and publish URLs default to <url>/events and <url>/publish.\nRepeat it (or separate with commas) for the nodes of a cluster (serve --nats):\nsubscribers spread over them round-robin, publishes go to each in turn")
	fs.StringVar(&c.SSEURL, "sse-url", "", "stream URL when it is not <url>/events; \"{topic}\" in it is replaced by the subscriber's topic")
	fs.StringVar(&c.TopicParam, "topic-param", "topic", "query parameter that selects a topic")
	fs.StringVar(&c.PublishURL, "publish-url", "", "URL events are POSTed to (default <url>/publish)")
	fs.BoolVar(&c.PublishJSON, "publish-json", false, "one application/json request per event instead of application/x-ndjson batches")
	fs.StringVar(&c.PublishBody, "publish-body", "", "per-event request body template for other servers; placeholders {topic}, {event}, {key}, {seq}, {data}")
	fs.StringVar(&c.PublishContentType, "publish-content-type", "application/json", "content type of --publish-body requests")
	fs.StringVar(&c.PublishCmd, "publish-cmd", "", "command run once per event instead of HTTP (no shell; same placeholders)")
	fs.StringVar(&c.Scenario, "scenario", "steady", "steady, burst, slow, churn or idle")
	fs.IntVar(&c.Subscribers, "subscribers", 100, "number of SSE connections")
	fs.Float64Var(&c.ConnectRate, "connect-rate", 1000, "connections opened per second (negative: all at once)")
	fs.IntVar(&c.SourceAddrs, "source-addrs", 16, "spread connections over 127.0.0.1..127.0.0.N (loopback servers only) for more ephemeral ports")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 5*time.Second, "limit on dial plus response head")
	fs.Float64Var(&c.Rate, "rate", 100, "events published per second")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured phase (idle: how long connections are held)")
	fs.IntVar(&c.Payload, "payload", 128, fmt.Sprintf("bytes of data per event (at least %d)", loadgen.PayloadHeaderBytes))
	fs.IntVar(&c.Topics, "topics", 1, "topics the events are spread over; subscriber i follows topic i mod topics")
	fs.BoolVar(&c.AllTopics, "all-topics", false, "every subscriber follows every topic (no topic filter)")
	fs.StringVar(&c.TopicPrefix, "topic-prefix", "lg", "topic names are prefix + index")
	fs.StringVar(&c.EventName, "event", "", "event name sent with every event (default: none, i.e. message)")
	fs.IntVar(&c.MaxBatch, "max-batch", 1000, "most events per publish request")
	fs.DurationVar(&c.BurstEvery, "burst-every", time.Second, "burst scenario: period; each burst is rate × period events due at once")
	fs.Float64Var(&c.SlowFraction, "slow-fraction", 0.1, "slow scenario: fraction of slow subscribers")
	fs.StringVar(&c.SlowMode, "slow-mode", "trickle", "slow scenario: trickle (read --slow-read-bytes every --slow-read-interval) or stall (stop reading)")
	fs.IntVar(&c.SlowReadBytes, "slow-read-bytes", 512, "slow scenario: bytes per read of a trickling subscriber")
	fs.DurationVar(&c.SlowReadInterval, "slow-read-interval", 100*time.Millisecond, "slow scenario: pause between reads of a trickling subscriber")
	fs.IntVar(&c.SlowRecvBuffer, "slow-rcvbuf", 0, "slow scenario: socket receive buffer of the slow subscribers in bytes (SO_RCVBUF), their MSS then\ncapped at 1460 as on Ethernet, so that a loopback server does not buffer megabytes for them (0: the system's)")
	fs.Float64Var(&c.ChurnFraction, "churn-fraction", 0.5, "churn scenario: fraction of subscribers that reconnect")
	fs.DurationVar(&c.ChurnEvery, "churn-every", time.Second, "churn scenario: mean connection lifetime (uniform 0.5..1.5×)")
	fs.DurationVar(&c.ChurnOffline, "churn-offline", 0, "churn scenario: time away before resuming")
	fs.BoolVar(&c.NoReconnect, "no-reconnect", false, "do not reconnect when the server closes a stream")
	fs.DurationVar(&c.ReconnectDelay, "reconnect-delay", 0, "wait before reconnecting (0: the server's retry, else 1s)")
	fs.DurationVar(&c.WarmupTimeout, "warmup-timeout", 0, "limit on waiting for every subscriber to be live (0: connect time + 10s)")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 5*time.Second, "limit on waiting for the last events after publishing ends")
	fs.DurationVar(&c.Interval, "interval", time.Second, "progress and latency-series interval")
	fs.IntVar(&c.ReadBuffer, "read-buffer", 0, "bytes read per socket read (0: 16 KiB for a subscriber read by its own goroutine,\n64 KiB for an epoll event loop)")
	fs.StringVar(&c.Reader, "reader", "", "how steady subscribers read: epoll (one event loop per core; the default on Linux)\nor goroutine (one goroutine blocked in read per connection)")
	fs.IntVar(&c.MaxEventBytes, "max-event-bytes", loadgen.DefaultMaxEventBytes, "largest SSE line or event accepted from the server")
	var pids pidList
	fs.Var(&pids, "server-pid", "server process `id`: its RSS and CPU are read from /proc; repeat it (or give a\ncomma-separated list) for a cluster's nodes, whose figures are summed")
	fs.StringVar(&c.MetricsURL, "metrics-url", "", "server Prometheus endpoint (default <url>/metrics if it answers; \"off\" disables)")
	fs.BoolVar(&c.IdleGC, "idle-gc", false, "idle scenario: ask the server to collect garbage (--admin-url /debug/pprof/heap?gc=1) before each memory reading")
	fs.BoolVar(&c.Profile, "profile", false, "fetch CPU and heap profiles from the server's admin listener during the run")
	fs.StringVar(&c.AdminURL, "admin-url", "http://127.0.0.1:6060", "server admin listener serving /debug/pprof/")
	fs.DurationVar(&c.ProfileSeconds, "profile-seconds", 0, "CPU profile length (0: duration - 1s, at most 30s)")
	fs.StringVar(&c.ProfileDir, "profile-dir", "", "directory to keep the raw profiles in, for go tool pprof")
	fs.IntVar(&c.ProfileTop, "profile-top", 15, "functions listed per profile")
	fs.Int64Var(&c.Seed, "seed", 0, "seed of the churn schedule (0: random)")
	jsonOut := fs.String("json", "", "write the result as JSON to this file (\"-\": stdout, instead of the table)")
	htmlOut := fs.String("html", "", "write a self-contained HTML report with charts to this file")
	quiet := fs.Bool("quiet", false, "no progress output")
	failOnLoss := fs.Bool("fail-on-loss", false, "exit non-zero unless every steady subscriber received every event")
	selfProfile := fs.String("self-cpu-profile", "", "write the load generator's own CPU profile to this file (is the client the bottleneck?)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if len(pids.pids) > 0 {
		c.ServerPID, c.ServerPIDs = pids.pids[0], pids.pids[1:]
	}
	c.URL = urls.urls[0]
	if len(urls.urls) > 1 {
		c.URLs = urls.urls
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Scenario == loadgen.ScenarioChurn && c.ChurnFraction == 0 {
		// The library reads a zero fraction as its default (0.5), so a run
		// meant as the no-churn baseline would churn half its subscribers.
		return errors.New("--churn-fraction 0 reconnects nobody: for a run without churn use --scenario steady")
	}
	if !*quiet {
		c.Progress = stderr
		c.ProgressTTY = loadgenIsTerminal(stderr)
	}
	if _, err := loadgen.RaiseOpenFileLimit(); err != nil {
		fmt.Fprintf(stderr, "loadgen: cannot raise the open file limit: %v\n", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *selfProfile != "" {
		f, err := os.Create(*selfProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := loadgen.Run(ctx, c)
	if err != nil {
		return err
	}
	summarizeProfiles(res, c.ProfileTop)
	if *jsonOut != "-" {
		if err := res.WriteText(stdout); err != nil {
			return err
		}
	}
	if err := writeOutput(*jsonOut, stdout, res.WriteJSON); err != nil {
		return err
	}
	if err := writeHTML(ctx, *htmlOut, res, stdout, stderr); err != nil {
		return err
	}
	if *failOnLoss && !res.LossFree() {
		return errors.New("events were lost (or none were expected)")
	}
	return nil
}

// writeOutput writes to path ("-" is stdout); an empty path writes nothing.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	switch strings.TrimSpace(path) {
	case "":
		return nil
	case "-":
		return write(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %v", path, err)
	}
	return f.Close()
}

// loadgenIsTerminal reports whether w is a character device (a terminal), where the
// progress line can be rewritten in place.
func loadgenIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// urlList is --url: the default until given, then every value given, each
// possibly a comma-separated list.
type urlList struct {
	urls  []string
	given bool
}

func (l *urlList) String() string { return strings.Join(l.urls, ",") }

func (l *urlList) Set(v string) error {
	if !l.given {
		l.urls, l.given = nil, true
	}
	for u := range strings.SplitSeq(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			l.urls = append(l.urls, u)
		}
	}
	if len(l.urls) == 0 {
		return errors.New("no URL")
	}
	return nil
}

// pidList is --server-pid: every value given, each possibly a
// comma-separated list.
type pidList struct{ pids []int }

func (l *pidList) String() string {
	s := make([]string, len(l.pids))
	for i, p := range l.pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

func (l *pidList) Set(v string) error {
	for p := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a process id", p)
		}
		l.pids = append(l.pids, n)
	}
	return nil
}

// summarizeProfiles fills in the top functions of the server profiles the
// run fetched (loadgen links no profile parser), as go tool pprof -top does.
func summarizeProfiles(res *loadgen.Result, n int) {
	for i := range res.Profiles {
		ps := &res.Profiles[i]
		if ps.Error != "" || len(ps.Raw) == 0 {
			continue
		}
		top, err := proftop.ComputeRaw(ps.Raw, ps.SampleType)
		if err != nil {
			ps.Error = err.Error()
			continue
		}
		ps.SampleType, ps.Unit, ps.Total = top.SampleType, top.Unit, top.Total
		shares := func(rows []proftop.Row) []loadgen.FuncShare {
			out := make([]loadgen.FuncShare, 0, min(n, len(rows)))
			for _, r := range rows[:min(n, len(rows))] {
				out = append(out, loadgen.FuncShare{Function: r.Function, Flat: r.Flat, Cum: r.Cum, FlatPct: 100 * r.FlatShare, CumPct: 100 * r.CumShare})
			}
			return out
		}
		ps.TopFlat, ps.TopCum = shares(top.ByFlat), shares(top.ByCum)
	}
}

// writeHTML has ringcast-report write res as an HTML page with charts to
// path ("-" is stdout; empty writes nothing), from the result as JSON.
func writeHTML(ctx context.Context, path string, res *loadgen.Result, stdout, stderr io.Writer) error {
	path = strings.TrimSpace(path)
	if path == "" {
		return nil
	}
	tmp, err := os.MkdirTemp("", "ringcast-loadgen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	in, page := filepath.Join(tmp, "result.json"), filepath.Join(tmp, "report.html")
	if path != "-" {
		page = absPath(path)
	}
	if err := writeOutput(in, stdout, res.WriteJSON); err != nil {
		return err
	}
	if err := runReportTool(ctx, stdout, stderr, "loadgen", "--in", in, "--html", page); err != nil {
		return fmt.Errorf("--html: %v", err)
	}
	if path != "-" {
		return nil
	}
	b, err := os.ReadFile(page)
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}
