package loadgen

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Scenarios.
const (
	// ScenarioSteady: every subscriber reads as fast as it can; events at a
	// constant rate.
	ScenarioSteady = "steady"
	// ScenarioBurst: the same average rate, sent as bursts of Rate×BurstEvery
	// events that are all due at the same instant.
	ScenarioBurst = "burst"
	// ScenarioSlow: SlowFraction of the subscribers read slowly (trickle) or
	// stop reading (stall); the others' latency is reported apart.
	ScenarioSlow = "slow"
	// ScenarioChurn: ChurnFraction of the subscribers drop their connection
	// every ChurnEvery (on average) and resume with Last-Event-ID.
	ScenarioChurn = "churn"
	// ScenarioIdle: Subscribers connections that receive nothing; reports the
	// server's memory per connection.
	ScenarioIdle = "idle"
)

// Readers: how steady subscribers read their sockets (Config.Reader).
const (
	ReaderEpoll     = "epoll"
	ReaderGoroutine = "goroutine"
)

// Scenarios lists the scenario names.
var Scenarios = []string{ScenarioSteady, ScenarioBurst, ScenarioSlow, ScenarioChurn, ScenarioIdle}

// Default socket read sizes (Config.ReadBuffer).
const (
	goroutineReadBuffer = 16 << 10
	loopReadBuffer      = 64 << 10
)

// Config describes one load generator run. Zero fields take the defaults
// documented on each.
type Config struct {
	// URL is the server's base URL (http://127.0.0.1:8080). SSEURL and
	// PublishURL default to URL+"/events" and URL+"/publish".
	URL string
	// URLs, with more than one base URL, spreads the run over the nodes of
	// a cluster (ringcast serve --nats, docs/cluster.md): subscriber i
	// streams from URLs[i mod len(URLs)]+"/events", and the publisher posts
	// to each node's /publish in turn, one request at a time, so that every
	// topic keeps its order. URL becomes URLs[0] (metrics, profiles); SSEURL,
	// PublishURL, PublishBody and PublishCmd must be empty.
	URLs []string
	// SSEURL is the stream URL. "{topic}" in it is replaced by the
	// subscriber's topic; otherwise topics go in TopicParam query parameters.
	SSEURL string
	// TopicParam is the query parameter that selects a topic ("topic").
	TopicParam string

	// Publisher sends the events. When nil, one is built from PublishCmd,
	// PublishBody or PublishURL, in that order.
	Publisher Publisher
	// PublishURL receives POSTed events (ringcast's /publish).
	PublishURL string
	// PublishJSON sends one application/json request per event instead of
	// application/x-ndjson batches.
	PublishJSON bool
	// PublishBody is a per-event request body template for servers with
	// another publish API (see templateHelp), sent as PublishContentType.
	PublishBody        string
	PublishContentType string
	// PublishCmd is a command template run once per event.
	PublishCmd string

	// Scenario is one of Scenarios ("steady").
	Scenario string
	// Subscribers is the number of SSE connections (100).
	Subscribers int
	// ConnectRate is how many connections are opened per second (1000; <0:
	// all at once).
	ConnectRate float64
	// SourceAddrs spreads subscribers over 127.0.0.1..127.0.0.N when the
	// server is on IPv4 loopback, so that more than one address's ephemeral
	// ports are available (16). Never used for other servers.
	SourceAddrs int
	// ConnectTimeout bounds the dial and response head (5s).
	ConnectTimeout time.Duration

	// Rate is the publish rate in events per second (100).
	Rate float64
	// Duration is the measured publishing phase (10s); for idle, how long the
	// connections are held.
	Duration time.Duration
	// Payload is the size of each event's data in bytes (128; at least
	// PayloadHeaderBytes).
	Payload int
	// Topics is the number of topics events are spread over, round robin (1).
	// Subscriber i subscribes to topic i mod Topics unless AllTopics.
	Topics int
	// AllTopics makes every subscriber subscribe to every topic (no filter).
	AllTopics bool
	// TopicPrefix names the topics: prefix + index ("lg").
	TopicPrefix string
	// EventName is sent as every event's "event" field when set.
	EventName string
	// MaxBatch caps the events of one publish call (1000).
	MaxBatch int
	// BurstEvery is the burst period of the burst scenario (1s).
	BurstEvery time.Duration

	// SlowFraction, SlowMode ("trickle" or "stall"), SlowReadBytes and
	// SlowReadInterval shape the slow scenario (0.1, trickle, 512, 100ms).
	SlowFraction     float64
	SlowMode         string
	SlowReadBytes    int
	SlowReadInterval time.Duration
	// SlowRecvBuffer, when set, is the slow subscribers' socket receive
	// buffer in bytes (SO_RCVBUF, set before connecting; Linux doubles it),
	// and their MSS is capped at 1460 bytes, Ethernet's (TCP_MAXSEG; no
	// change on most network paths). On loopback, whose MSS is 64 KiB, the
	// server's send buffer autotunes to megabytes whatever the receiver's
	// buffer, so that a trickling reader makes the server's writes block
	// only after many seconds; with both, its send buffer stays around
	// 100 KiB, as for a client across a network. 0: the system's buffers.
	// Unix only.
	SlowRecvBuffer int
	// ChurnFraction and ChurnEvery shape the churn scenario (0.5, 1s): a
	// churning subscriber's connections last uniformly 0.5..1.5 × ChurnEvery.
	ChurnFraction float64
	ChurnEvery    time.Duration
	// ChurnOffline is how long a churning subscriber stays away before it
	// resumes (0: at once). Longer than the server's window in time, it
	// makes resets.
	ChurnOffline time.Duration

	// NoReconnect keeps a subscriber down once the server closes its stream.
	NoReconnect bool
	// ReconnectDelay is the wait before reconnecting after the server closed
	// the stream (0: the server's retry, or 1s without one).
	ReconnectDelay time.Duration
	// WarmupTimeout bounds the wait for every subscriber to receive a warm-up
	// event (connect time + 10s).
	WarmupTimeout time.Duration
	// DrainTimeout bounds the wait, after the last event is sent, for every
	// subscriber to receive everything (5s).
	DrainTimeout time.Duration
	// Interval is the progress and latency-series interval (1s).
	Interval time.Duration
	// ReadBuffer is the socket read size; 0 reads 16 KiB for a subscriber
	// read by its own goroutine and 64 KiB for an event loop, which has one
	// buffer for all its subscribers (at high rates a paced server writes
	// 30 KiB at once, and one read of it instead of two cost the client
	// 5-10% less CPU).
	ReadBuffer int
	// Reader is how steady subscribers read their sockets: "epoll" (the
	// default on Linux) multiplexes them over GOMAXPROCS event loops;
	// "goroutine" blocks one goroutine per subscriber in Read, as on other
	// systems. Slow and churning subscribers always read in a goroutine.
	Reader string
	// MaxEventBytes bounds one SSE line or event (1 MiB).
	MaxEventBytes int

	// ServerPID, when set, is read in /proc for the server's RSS and CPU.
	ServerPID int
	// ServerPIDs are further processes of the server under test (a
	// cluster's other nodes), read with ServerPID: the CPU time, RSS and
	// descriptors reported are the sums over all of them.
	ServerPIDs []int
	// MetricsURL is the server's Prometheus text endpoint: process metrics when
	// ServerPID is not set, and counter deltas over the run. Empty: URL+"/metrics"
	// is tried; "off" disables.
	MetricsURL string

	// IdleGC makes the idle scenario ask the server to collect garbage
	// (AdminURL's /debug/pprof/heap?gc=1) before each memory reading.
	IdleGC bool

	// Profile fetches CPU and heap profiles from AdminURL during the run.
	Profile bool
	// AdminURL serves /debug/pprof/ (http://127.0.0.1:6060).
	AdminURL string
	// ProfileSeconds is the CPU profile's length (Duration-1s, at least 1s).
	ProfileSeconds time.Duration
	// ProfileDir, when set, keeps the raw profiles for go tool pprof.
	ProfileDir string
	// ProfileTop is how many functions each list shows (15).
	ProfileTop int

	// Progress receives the live progress display (nil: none). ProgressTTY
	// rewrites one line in place instead of printing a line per interval.
	Progress    io.Writer
	ProgressTTY bool
	// Logger receives warnings (slog.Default when nil).
	Logger *slog.Logger
	// Seed makes the churn schedule reproducible (0: time-based).
	Seed int64
}

func (c *Config) setDefaults() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Scenario == "" {
		c.Scenario = ScenarioSteady
	}
	known := false
	for _, s := range Scenarios {
		known = known || s == c.Scenario
	}
	if !known {
		return fmt.Errorf("unknown scenario %q (want one of %s)", c.Scenario, strings.Join(Scenarios, ", "))
	}
	if len(c.URLs) > 1 { // several nodes
		if c.SSEURL != "" || c.PublishURL != "" || c.PublishBody != "" || c.PublishCmd != "" {
			return errors.New("several URLs (one per node) take no SSE URL, publish URL, body template or command")
		}
		for i, u := range c.URLs {
			c.URLs[i] = strings.TrimRight(u, "/")
		}
		c.URL = c.URLs[0]
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.SSEURL == "" {
		if c.URL == "" {
			return errors.New("no server: set the base URL or the SSE URL")
		}
		c.SSEURL = c.URL + "/events"
	}
	if c.PublishURL == "" && c.URL != "" {
		c.PublishURL = c.URL + "/publish"
	}
	if c.TopicParam == "" {
		c.TopicParam = "topic"
	}
	def(&c.Subscribers, 100)
	if c.Subscribers < 0 {
		return fmt.Errorf("subscribers must be positive, not %d", c.Subscribers)
	}
	if c.ConnectRate == 0 {
		c.ConnectRate = 1000
	}
	def(&c.SourceAddrs, 16)
	if c.SourceAddrs > 254 {
		c.SourceAddrs = 254
	}
	defDur(&c.ConnectTimeout, 5*time.Second)
	if c.Rate == 0 && c.Scenario != ScenarioIdle {
		c.Rate = 100
	}
	if c.Rate < 0 {
		return fmt.Errorf("rate must not be negative, not %g", c.Rate)
	}
	defDur(&c.Duration, 10*time.Second)
	def(&c.Payload, 128)
	if err := checkPayloadSize(c.Payload); err != nil {
		return err
	}
	def(&c.Topics, 1)
	if c.Topics < 1 || c.Topics > 1<<24 {
		return fmt.Errorf("topics must be between 1 and %d, not %d", 1<<24, c.Topics)
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = "lg"
	}
	def(&c.MaxBatch, 1000)
	defDur(&c.BurstEvery, time.Second)
	if c.SlowFraction == 0 {
		c.SlowFraction = 0.1
	}
	if c.SlowMode == "" {
		c.SlowMode = "trickle"
	}
	if c.SlowMode != "trickle" && c.SlowMode != "stall" {
		return fmt.Errorf("slow mode %q: want trickle or stall", c.SlowMode)
	}
	def(&c.SlowReadBytes, 512)
	defDur(&c.SlowReadInterval, 100*time.Millisecond)
	if c.SlowRecvBuffer < 0 {
		return fmt.Errorf("slow receive buffer must not be negative, not %d", c.SlowRecvBuffer)
	}
	if c.SlowRecvBuffer > 0 && !slowSocketSupported {
		return errors.New("slow receive buffer: only on Unix systems")
	}
	if c.ChurnFraction == 0 {
		c.ChurnFraction = 0.5
	}
	if c.SlowFraction < 0 || c.SlowFraction > 1 || c.ChurnFraction < 0 || c.ChurnFraction > 1 {
		return errors.New("slow and churn fractions must be within 0..1")
	}
	if len(c.ServerPIDs) > 0 && c.ServerPID <= 0 {
		return errors.New("ServerPIDs are read with ServerPID: set ServerPID too")
	}
	defDur(&c.ChurnEvery, time.Second)
	if c.WarmupTimeout == 0 {
		connect := time.Duration(0)
		if c.ConnectRate > 0 {
			connect = time.Duration(float64(c.Subscribers) / c.ConnectRate * float64(time.Second))
		}
		c.WarmupTimeout = connect + 10*time.Second
	}
	defDur(&c.DrainTimeout, 5*time.Second)
	defDur(&c.Interval, time.Second)
	if c.ReadBuffer > 0 && c.ReadBuffer < 512 {
		c.ReadBuffer = 512
	}
	def(&c.MaxEventBytes, DefaultMaxEventBytes)
	switch c.Reader {
	case "":
		c.Reader = ReaderGoroutine
		if pollSupported {
			c.Reader = ReaderEpoll
		}
	case ReaderGoroutine:
	case ReaderEpoll:
		if !pollSupported {
			return errors.New("reader epoll: only on Linux (use goroutine)")
		}
	default:
		return fmt.Errorf("reader %q: want %s or %s", c.Reader, ReaderEpoll, ReaderGoroutine)
	}
	if c.AdminURL == "" {
		c.AdminURL = "http://127.0.0.1:6060"
	}
	c.AdminURL = strings.TrimRight(c.AdminURL, "/")
	if c.ProfileSeconds == 0 {
		c.ProfileSeconds = max(time.Second, min(c.Duration-time.Second, 30*time.Second))
	}
	def(&c.ProfileTop, 15)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// specialClassName names the subscribers that are not steady readers in the
// scenario ("" when every subscriber is one).
func (c *Config) specialClassName() string {
	switch c.Scenario {
	case ScenarioSlow:
		return "slow"
	case ScenarioChurn:
		return "churn"
	}
	return ""
}

func (c *Config) specialFraction() float64 {
	switch c.Scenario {
	case ScenarioSlow:
		return c.SlowFraction
	case ScenarioChurn:
		return c.ChurnFraction
	}
	return 0
}
