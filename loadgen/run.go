package loadgen

// Run invariants:
//
//   - The run has one monotonic clock: now() is nanoseconds since base.
//     Intended send times, receive times and the measured phase's start are
//     all on it, so latency never depends on wall-clock steps. (The epoll
//     reader moves a receive time back to the kernel's arrival timestamp by
//     the difference of two wall-clock readings taken at most maxReadDelay
//     apart, poll_linux.go.)
//   - Warm-up before measurement: events flagged as warm-up go to every topic
//     until every subscriber has received one. Only then is a subscription
//     known to be live on the server, and only then do measured sequences
//     start (at 0 on every topic), so "expected" is exact: every subscriber
//     expects every measured event of its topics.
//   - Open loop: the i-th measured event is due at intended(i), fixed before
//     the run starts. When the server (or the publish call) is slow, the
//     publisher falls behind and sends the overdue events in one batch, each
//     still carrying its own intended time, so the delay shows in latency
//     instead of thinning the schedule (no coordinated omission).
//   - measureStart is stored before measuring is set and before the first
//     measured event exists, so every subscriber that sees a measured event
//     reads the final measureStart.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

type run struct {
	cfg        Config
	ep         endpoint
	eps        []endpoint // one per node (Config.URLs), else ep alone
	pub        Publisher
	base       time.Time
	topics     []string
	subs       []*subscriber
	subsWG     sync.WaitGroup
	coll       *collector
	intervalNs int64

	measureStart atomic.Int64
	measuring    atomic.Bool
	ready        atomic.Int64
	connected    atomic.Int64
	peakConn     atomic.Int64

	readyOnConnect bool
	loopStreams    atomic.Int64 // streams handed to event loops

	connMu   sync.Mutex
	connHist *hdrhistogram.Histogram

	errMu     sync.Mutex
	errCounts map[string]int64
	errSample []string

	// Publisher state: written by the publishing goroutine, read after it.
	published     atomic.Int64
	publishFailed atomic.Int64
	publishCalls  atomic.Int64
	pubErrors     []string
	accepted      []int64
	perTopic      []uint64 // measured events generated per topic
	lagMaxNs      int64
	lagSumNs      float64
	pubWall       time.Duration
	pubWallDone   atomic.Bool

	procSrc    procSource
	metricsURL string
	httpc      *http.Client

	samplesMu     sync.Mutex
	samples       []SeriesPoint
	serverSamples []procSample
}

func (r *run) now() int64 { return int64(time.Since(r.base)) }

// recordConnect notes a new connection: its connect latency, and the count
// of open connections, whose peak is kept.
func (r *run) recordConnect(d time.Duration) {
	r.connMu.Lock()
	r.connHist.RecordValue(latencyUs(int64(d)))
	r.connMu.Unlock()
	c := r.connected.Add(1)
	for {
		p := r.peakConn.Load()
		if c <= p || r.peakConn.CompareAndSwap(p, c) {
			return
		}
	}
}

func (r *run) noteError(err error) {
	if err == nil {
		return
	}
	kind := errKind(err)
	r.errMu.Lock()
	r.errCounts[kind]++
	if len(r.errSample) < 8 {
		r.errSample = append(r.errSample, err.Error())
	}
	r.errMu.Unlock()
}

// Run drives the server as cfg describes and returns what the subscribers
// received. It returns an error only when the run could not be made at all
// (bad configuration, no server); failures during the run are in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r, err := newRun(cfg)
	if err != nil {
		return nil, err
	}
	return r.execute(ctx)
}

func newRun(cfg Config) (*run, error) {
	ep, err := parseEndpoint(cfg.SSEURL, cfg.TopicParam)
	if err != nil {
		return nil, err
	}
	eps := []endpoint{ep}
	if len(cfg.URLs) > 1 {
		eps = eps[:0]
		for _, u := range cfg.URLs {
			e, err := parseEndpoint(u+"/events", cfg.TopicParam)
			if err != nil {
				return nil, err
			}
			eps = append(eps, e)
		}
	}
	r := &run{
		cfg:            cfg,
		ep:             ep,
		eps:            eps,
		base:           time.Now(),
		coll:           newCollector(),
		intervalNs:     int64(cfg.Interval),
		connHist:       newDense(),
		errCounts:      map[string]int64{},
		httpc:          &http.Client{Timeout: 30 * time.Second},
		readyOnConnect: cfg.Scenario == ScenarioIdle,
	}
	r.topics = make([]string, cfg.Topics)
	for i := range r.topics {
		r.topics[i] = cfg.TopicPrefix + strconv.Itoa(i)
	}
	r.accepted = make([]int64, cfg.Topics)
	r.perTopic = make([]uint64, cfg.Topics)
	if r.pub, err = r.buildPublisher(); err != nil {
		return nil, err
	}
	r.buildSubscribers()
	return r, nil
}

func (r *run) buildPublisher() (Publisher, error) {
	cfg := &r.cfg
	switch {
	case cfg.Publisher != nil:
		return cfg.Publisher, nil
	case cfg.Scenario == ScenarioIdle:
		return nil, nil
	case cfg.PublishCmd != "":
		argv, err := SplitCommand(cfg.PublishCmd)
		if err != nil || len(argv) == 0 {
			return nil, fmt.Errorf("publish command %q: %v", cfg.PublishCmd, err)
		}
		return &CommandPublisher{Argv: argv, Timeout: 10 * time.Second}, nil
	case len(cfg.URLs) > 1:
		rr := &roundRobin{}
		for _, u := range cfg.URLs {
			rr.pubs = append(rr.pubs, &HTTPPublisher{URL: u + "/publish", NDJSON: !cfg.PublishJSON, Client: r.httpc})
		}
		return rr, nil
	case cfg.PublishURL == "":
		return nil, errors.New("no publisher: set the publish URL, body template or command")
	case cfg.PublishBody != "":
		return &TemplatePublisher{URL: cfg.PublishURL, ContentType: cfg.PublishContentType, Template: cfg.PublishBody, Client: r.httpc}, nil
	default:
		return &HTTPPublisher{URL: cfg.PublishURL, NDJSON: !cfg.PublishJSON, Client: r.httpc}, nil
	}
}

func (r *run) buildSubscribers() {
	cfg := &r.cfg
	loopback := true
	for _, ep := range r.eps {
		loopback = loopback && ep.loopbackV4
	}
	nAddrs := 1
	if loopback {
		nAddrs = cfg.SourceAddrs
	}
	dialers := make([]*net.Dialer, nAddrs)
	for i := range dialers {
		d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: -1}
		if loopback {
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		dialers[i] = d
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	special := int(math.Round(cfg.specialFraction() * float64(cfg.Subscribers)))
	r.subs = make([]*subscriber, cfg.Subscribers)
	for i := range r.subs {
		s := &subscriber{
			r:         r,
			idx:       i,
			dialer:    dialers[i%nAddrs],
			allTopics: cfg.AllTopics,
			rng:       rand.New(rand.NewSource(seed + int64(i))),
			hist:      newPacked(),
			ep:        &r.eps[i%len(r.eps)],
		}
		// Spread the special subscribers evenly over the topics and addresses.
		if special > 0 && i*special/cfg.Subscribers != (i+1)*special/cfg.Subscribers {
			s.class = classSpecial
			if cfg.Scenario == ScenarioSlow && cfg.SlowRecvBuffer > 0 {
				d := *s.dialer
				d.Control = slowSocketControl(cfg.SlowRecvBuffer)
				s.dialer = &d
			}
		}
		// An event loop reads into its own buffer; the subscriber's only takes
		// the response head (and grows for a large one).
		bufSize := cmp.Or(cfg.ReadBuffer, goroutineReadBuffer)
		if cfg.Reader == ReaderEpoll && s.class == classSteady {
			bufSize = min(bufSize, headBufferBytes)
		}
		s.buf = make([]byte, bufSize)
		if cfg.AllTopics {
			s.next = make([]uint64, cfg.Topics)
			s.uri = s.ep.requestURI(nil)
		} else {
			s.topic = uint32(i % cfg.Topics)
			s.next = make([]uint64, 1)
			s.uri = s.ep.requestURI([]string{r.topics[s.topic]})
		}
		s.noticesSeen = make([]uint64, len(s.next))
		s.parser = NewParser(s.onEvent)
		s.parser.MaxEventBytes = cfg.MaxEventBytes
		r.subs[i] = s
	}
}

// intended is the i-th measured event's due time, in ns after measureStart.
func (r *run) intended(i int64) int64 {
	if r.cfg.Rate <= 0 {
		return 0
	}
	if r.cfg.Scenario == ScenarioBurst {
		size := r.burstSize()
		return (i / size) * int64(r.cfg.BurstEvery)
	}
	return int64(float64(i) * 1e9 / r.cfg.Rate)
}

func (r *run) burstSize() int64 {
	return max(1, int64(math.Round(r.cfg.Rate*r.cfg.BurstEvery.Seconds())))
}

func (r *run) totalEvents() int64 {
	if r.cfg.Scenario == ScenarioIdle {
		return 0
	}
	return int64(math.Round(r.cfg.Rate * r.cfg.Duration.Seconds()))
}

func (r *run) execute(ctx context.Context) (*Result, error) {
	cfg := &r.cfg
	res := &Result{Scenario: cfg.Scenario, Target: cfg.SSEURL, Started: time.Now()}
	r.setupServerStats(ctx)
	idle := cfg.Scenario == ScenarioIdle
	if idle {
		r.serverGC(ctx)
	}
	baseline, srvErr := r.sampleServer(ctx)
	var baseLive float64
	if idle {
		baseLive = r.serverLiveMemory(ctx)
	}

	subCtx, cancelSubs := context.WithCancel(ctx)
	defer cancelSubs()
	progCtx, stopProgress := context.WithCancel(ctx)
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		r.progressLoop(progCtx)
	}()
	var loops *pollGroup
	if cfg.Reader == ReaderEpoll {
		var err error
		if loops, err = startPollGroup(subCtx, r); err != nil {
			stopProgress()
			<-progDone
			return nil, fmt.Errorf("epoll reader: %v", err)
		}
		k := 0
		for _, s := range r.subs {
			if s.class == classSteady {
				s.loop = loops.loops[k%len(loops.loops)]
				k++
			}
		}
	}
	stop := func() {
		cancelSubs()
		r.subsWG.Wait()
		if loops != nil {
			loops.wait()
		}
		stopProgress()
		<-progDone
	}

	now := time.Now()
	r.subsWG.Add(len(r.subs))
	for i, s := range r.subs {
		at := now
		if cfg.ConnectRate > 0 {
			at = now.Add(time.Duration(float64(i) / cfg.ConnectRate * float64(time.Second)))
		}
		go s.run(subCtx, at)
	}

	var before map[string]float64
	if cfg.Scenario == ScenarioIdle {
		r.waitReady(ctx, cfg.WarmupTimeout)
	} else if err := r.warmup(ctx); err != nil {
		stop()
		return nil, err
	}
	if r.metricsURL != "" {
		before, _ = scrapeMetrics(ctx, r.httpc, r.metricsURL)
	}
	atStart, err := r.sampleServer(ctx)
	srvErr = errors.Join(srvErr, err)
	cpuStart := selfCPU()
	r.measureStart.Store(r.now())
	r.measuring.Store(true)
	hiccups := make(chan *hdrhistogram.Histogram, 1)
	hiccupCtx, stopHiccups := context.WithCancel(ctx)
	go func() { hiccups <- measureHiccups(hiccupCtx) }()

	var profiles chan []ProfileSummary
	if cfg.Profile {
		profiles = make(chan []ProfileSummary, 1)
		go func() {
			profiles <- captureProfiles(ctx, cfg.AdminURL, cfg.ProfileSeconds, cfg.ProfileDir, cfg.ProfileTop)
		}()
	}
	if cfg.Scenario == ScenarioIdle {
		res.Idle = &IdleResult{Connections: int(r.connected.Load()), RSSBefore: baseline.RSS}
		sleepUntil(ctx, time.Now().Add(cfg.Duration))
		res.Idle.ConnectionsHeld = int(r.connected.Load())
	} else {
		r.publish(ctx)
		r.drain(ctx)
	}
	res.Measured = time.Duration(r.now() - r.measureStart.Load())
	stopHiccups()
	hiccup := <-hiccups
	cpuEnd := selfCPU()
	if idle {
		r.serverGC(ctx)
	}
	final, err := r.sampleServer(ctx)
	srvErr = errors.Join(srvErr, err)
	if res.Idle != nil && srvErr == nil && res.Idle.ConnectionsHeld > 0 {
		res.Idle.RSSAfter = final.RSS
		res.Idle.BytesPerConn = float64(final.RSS-baseline.RSS) / float64(res.Idle.ConnectionsHeld)
	}
	if res.Idle != nil && baseLive > 0 && res.Idle.ConnectionsHeld > 0 {
		if live := r.serverLiveMemory(ctx); live > 0 {
			res.Idle.LiveBefore, res.Idle.LiveAfter = int64(baseLive), int64(live)
			res.Idle.LiveBytesPerConn = (live - baseLive) / float64(res.Idle.ConnectionsHeld)
		}
	}
	var after map[string]float64
	if before != nil {
		after, _ = scrapeMetrics(ctx, r.httpc, r.metricsURL)
	}
	if profiles != nil {
		select {
		case res.Profiles = <-profiles:
		case <-time.After(cfg.ProfileSeconds + 30*time.Second):
			res.Profiles = []ProfileSummary{{Kind: "cpu", Error: "profile fetch did not finish"}}
		}
	}
	stop()
	r.httpc.CloseIdleConnections()
	r.finish(res)
	res.Client = r.clientStats(cpuStart, cpuEnd, res.Measured)
	res.Client.Reader = cfg.Reader
	if loops != nil {
		res.Client.EventLoops = len(loops.loops)
		res.Client.LoopStreams = r.loopStreams.Load()
		res.Client.ReadDelay = summarize(loops.readDelay())
	}
	res.Client.Hiccup = summarize(hiccup)
	if r.procSrc != nil {
		res.Server = r.serverStats(baseline, atStart, final, srvErr, res.Measured)
		if after != nil {
			res.Server.Counters = counterDeltas(before, after)
		}
	}
	return res, nil
}

// waitReady polls until every subscriber is ready or the timeout passes.
func (r *run) waitReady(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for r.ready.Load() < int64(len(r.subs)) && time.Now().Before(deadline) {
		if !sleepUntil(ctx, time.Now().Add(10*time.Millisecond)) {
			return
		}
	}
}

// warmup publishes warm-up events to every topic until every subscriber has
// received one. It fails only when no publish succeeded at all.
func (r *run) warmup(ctx context.Context) error {
	deadline := time.Now().Add(r.cfg.WarmupTimeout)
	var seq uint64
	var lastErr error
	ok := false
	msgs := make([]Message, 0, min(len(r.topics), r.cfg.MaxBatch))
	var arena []byte
	for r.ready.Load() < int64(len(r.subs)) && time.Now().Before(deadline) && ctx.Err() == nil {
		for t0 := 0; t0 < len(r.topics); t0 += r.cfg.MaxBatch {
			msgs, arena = msgs[:0], arena[:0]
			t1 := min(len(r.topics), t0+r.cfg.MaxBatch)
			for t := t0; t < t1; t++ {
				arena = AppendPayload(arena, Stamp{Topic: uint32(t), Seq: seq, IntendedNs: r.now(), Warmup: true}, PayloadHeaderBytes)
			}
			for t := t0; t < t1; t++ {
				off := (t - t0) * PayloadHeaderBytes
				msgs = append(msgs, Message{Topic: r.topics[t], Event: r.cfg.EventName, Data: arena[off : off+PayloadHeaderBytes], Seq: seq})
			}
			if err := r.pub.Publish(ctx, msgs); err != nil {
				lastErr = err
			} else {
				ok = true
			}
		}
		seq++
		sleepUntil(ctx, time.Now().Add(50*time.Millisecond))
	}
	if !ok && lastErr != nil {
		return fmt.Errorf("warm-up: no publish succeeded: %v", lastErr)
	}
	if n := r.ready.Load(); n < int64(len(r.subs)) {
		r.cfg.Logger.Warn("loadgen: measuring without every subscriber ready", "ready", n, "subscribers", len(r.subs))
	}
	return nil
}

// publish runs the open-loop schedule of the measured phase.
func (r *run) publish(ctx context.Context) {
	cfg := &r.cfg
	total := r.totalEvents()
	T := int64(len(r.topics))
	size := cfg.Payload
	msgs := make([]Message, 0, cfg.MaxBatch)
	arena := make([]byte, 0, cfg.MaxBatch*size)
	start := r.measureStart.Load()
	began := time.Now()
	var i int64
	for i < total && ctx.Err() == nil {
		now := r.now() - start
		j := i
		for j < total && j-i < int64(cfg.MaxBatch) && r.intended(j) <= now {
			j++
		}
		if j == i {
			sleepUntil(ctx, time.Now().Add(time.Duration(r.intended(i)-now)))
			continue
		}
		if lag := now - r.intended(i); lag > r.lagMaxNs {
			r.lagMaxNs = lag
		}
		for k := i; k < j; k++ {
			r.lagSumNs += float64(now - r.intended(k))
		}
		msgs, arena = msgs[:0], arena[:0]
		for k := i; k < j; k++ {
			t, seq := k%T, uint64(k/T)
			arena = AppendPayload(arena, Stamp{Topic: uint32(t), Seq: seq, IntendedNs: start + r.intended(k)}, size)
			msgs = append(msgs, Message{Topic: r.topics[t], Event: cfg.EventName, Seq: seq})
		}
		for k := range msgs {
			msgs[k].Data = arena[k*size : (k+1)*size]
		}
		r.publishCalls.Add(1)
		if err := r.pub.Publish(ctx, msgs); err != nil {
			r.publishFailed.Add(j - i)
			if len(r.pubErrors) < 8 {
				r.pubErrors = append(r.pubErrors, err.Error())
			}
		} else {
			for k := i; k < j; k++ {
				r.accepted[k%T]++
			}
			r.published.Add(j - i)
		}
		for k := i; k < j; k++ {
			r.perTopic[k%T]++
		}
		i = j
	}
	r.pubWall = time.Since(began)
	r.pubWallDone.Store(true)
}

// target is how far a subscriber's position must reach to hold everything
// that was generated for its topics.
func (r *run) target(s *subscriber) uint64 {
	if s.allTopics {
		var t uint64
		for _, n := range r.perTopic {
			t += n
		}
		return t
	}
	return r.perTopic[s.topic]
}

// drain waits until every subscriber that is expected to keep up has
// everything, or DrainTimeout passes.
func (r *run) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.DrainTimeout)
	pending := make([]*subscriber, 0, len(r.subs))
	for _, s := range r.subs {
		if s.class == classSpecial && r.cfg.Scenario == ScenarioSlow {
			continue
		}
		pending = append(pending, s)
	}
	for len(pending) > 0 && time.Now().Before(deadline) {
		keep := pending[:0]
		for _, s := range pending {
			if s.posA.Load() < r.target(s) && !s.doneA.Load() {
				keep = append(keep, s)
			}
		}
		pending = keep
		if len(pending) == 0 || !sleepUntil(ctx, time.Now().Add(5*time.Millisecond)) {
			return
		}
	}
}

func (r *run) setupServerStats(ctx context.Context) {
	cfg := &r.cfg
	if cfg.MetricsURL != "off" {
		u := cfg.MetricsURL
		if u == "" && cfg.URL != "" {
			u = cfg.URL + "/metrics"
		}
		if u != "" {
			if _, err := scrapeMetrics(ctx, r.httpc, u); err == nil {
				r.metricsURL = u
			} else if cfg.MetricsURL != "" {
				cfg.Logger.Warn("loadgen: server metrics unavailable", "url", u, "err", err)
			}
		}
	}
	switch {
	case cfg.ServerPID > 0:
		r.procSrc = pidSource{cfg.ServerPID}
	case r.metricsURL != "":
		src := metricsSource{url: r.metricsURL, client: r.httpc}
		if _, err := src.sample(ctx); err == nil {
			r.procSrc = src
		}
	}
}

// serverGC asks the server to collect garbage before a memory reading (the
// pprof heap endpoint's gc=1), when Config.IdleGC allows it, so that the
// reading holds live memory rather than whatever the last GC left behind.
func (r *run) serverGC(ctx context.Context) {
	if !r.cfg.IdleGC {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.AdminURL+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return
	}
	if resp, err := r.httpc.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// serverLiveMemory reads the Go heap and stacks in use from the server's
// metrics (0 when they are not there): memory per connection without the
// allocator's and the kernel's slack that RSS includes.
func (r *run) serverLiveMemory(ctx context.Context) float64 {
	if r.metricsURL == "" {
		return 0
	}
	m, err := scrapeMetrics(ctx, r.httpc, r.metricsURL)
	if err != nil {
		return 0
	}
	heap, ok1 := m["go_memstats_heap_inuse_bytes"]
	stack, ok2 := m["go_memstats_stack_inuse_bytes"]
	if !ok1 || !ok2 {
		return 0
	}
	return heap + stack
}

func (r *run) sampleServer(ctx context.Context) (procSample, error) {
	if r.procSrc == nil {
		return procSample{}, errors.New("no server statistics source")
	}
	return r.procSrc.sample(ctx)
}

func (r *run) serverStats(baseline, atStart, final procSample, err error, measured time.Duration) *ServerStats {
	st := &ServerStats{Source: r.procSrc.describe()}
	if err != nil {
		st.Error = err.Error()
		return st
	}
	if measured > 0 {
		st.CPUCores = (final.CPUSec - atStart.CPUSec) / measured.Seconds()
	}
	st.RSSStart, st.RSSEnd = baseline.RSS, final.RSS
	st.RSSPeak = max(baseline.RSS, final.RSS)
	r.samplesMu.Lock()
	for _, s := range r.serverSamples {
		st.RSSPeak = max(st.RSSPeak, s.RSS)
	}
	r.samplesMu.Unlock()
	return st
}

// finish folds every subscriber's counters and the collector into res.
func (r *run) finish(res *Result) {
	cfg := &r.cfg
	res.Config = summarizeConfig(cfg)
	res.Subscribers = len(r.subs)
	res.PeakConnected = int(r.peakConn.Load())
	res.Ready = int(r.ready.Load())
	res.Published = r.published.Load()
	res.PublishFailed = r.publishFailed.Load()
	res.PublishCalls = r.publishCalls.Load()
	res.PublishErrors = r.pubErrors
	res.PublishLagMaxMs = float64(r.lagMaxNs) / 1e6
	if n := res.Published + res.PublishFailed; n > 0 {
		res.PublishLagMeanMs = r.lagSumNs / float64(n) / 1e6
	}
	// The schedule spans Duration; a publisher that needed longer to hand
	// every event over did not offer the rate.
	if span := max(r.pubWall, cfg.Duration); span > 0 && cfg.Scenario != ScenarioIdle {
		res.PublishRate = float64(res.Published+res.PublishFailed) / span.Seconds()
	}
	classes := []string{"steady"}
	if n := cfg.specialClassName(); n != "" {
		classes = append(classes, n)
	}
	byClass := make([]ClassResult, len(classes))
	for i := range byClass {
		byClass[i].Name = classes[i]
	}
	for _, s := range r.subs {
		c := &byClass[s.class]
		c.Subscribers++
		var expected int64
		if s.allTopics {
			for _, a := range r.accepted {
				expected += a
			}
		} else {
			expected = r.accepted[s.topic]
		}
		c.Expected += expected
		c.Delivered += s.delivered
		if lost := expected - s.delivered; lost > 0 {
			c.SubscribersLosing++
			c.MaxLost = max(c.MaxLost, lost)
		}
		c.Duplicates += s.dups
		c.Gaps += s.gaps
		c.GapEvents += s.gapEvents
		c.SilentGapEvents += s.silentEvents
		c.Lagged += s.lagged
		c.Skipped += s.skipped
		c.SkippedPending += s.skippedPending
		c.Resets += s.resets
		c.ResetMissed += s.resetMissed
		c.Reconnects += s.reconnects
		c.Churns += s.churns
		c.Disconnects += s.disconnects - s.churns
		res.Foreign += s.foreign
	}
	for i := range byClass {
		c := &byClass[i]
		c.Lost = c.Expected - c.Delivered
		c.Latency = summarize(r.coll.total([]int{i}))
		res.Expected += c.Expected
		res.Delivered += c.Delivered
		res.Lost += c.Lost
		res.Duplicates += c.Duplicates
		res.GapEvents += c.GapEvents
		res.SilentGapEvents += c.SilentGapEvents
		res.Lagged += c.Lagged
		res.Skipped += c.Skipped
		res.Resets += c.Resets
		res.Reconnects += c.Reconnects
	}
	res.Classes = byClass
	all := r.coll.total(nil)
	res.Latency = summarize(all)
	res.LatencyClamped = r.coll.clamped
	res.Spectrum = spectrum(all)
	if res.Measured > 0 {
		res.DeliveriesPerSec = float64(res.Delivered) / cfg.Duration.Seconds()
		if cfg.Scenario == ScenarioIdle {
			res.DeliveriesPerSec = 0
		}
	}
	r.connMu.Lock()
	res.ConnectLatency = summarize(r.connHist)
	r.connMu.Unlock()
	r.errMu.Lock()
	if len(r.errCounts) > 0 {
		res.Errors = r.errCounts
	}
	res.ErrorSamples = r.errSample
	r.errMu.Unlock()

	if lo, hi, ok := r.coll.intervals(); ok {
		h := newDense()
		for iv := max(lo, 0); iv <= hi; iv++ {
			r.coll.intervalHistogram(h, iv, nil)
			l := summarize(h)
			res.LatencySeries = append(res.LatencySeries, LatencyPoint{
				AtSec: float64(iv) * r.cfg.Interval.Seconds(), Latency: l,
			})
		}
	}
	r.samplesMu.Lock()
	res.Series = append([]SeriesPoint(nil), r.samples...)
	r.samplesMu.Unlock()
}

func (r *run) clientStats(cpuStart, cpuEnd float64, measured time.Duration) ClientStats {
	cs := ClientStats{Goroutines: runtime.NumGoroutine()}
	if s, err := readProc(os.Getpid()); err == nil {
		cs.RSS = s.RSS
	}
	if measured > 0 {
		cs.CPUCores = (cpuEnd - cpuStart) / measured.Seconds()
	}
	return cs
}

// hiccupPeriod is how often the hiccup meter asks to wake up.
const hiccupPeriod = time.Millisecond

// measureHiccups records, until ctx ends, how much later than asked a goroutine
// of this process wakes from a hiccupPeriod sleep (jHiccup's idea). When the
// machine is short of CPU, or the client's own scheduler is, this grows, and
// every latency the client measures carries it: the report shows it so that
// a noisy machine is not mistaken for a slow server.
func measureHiccups(ctx context.Context) *hdrhistogram.Histogram {
	h := newDense()
	t := time.NewTimer(hiccupPeriod)
	defer t.Stop()
	for {
		asked := time.Now()
		t.Reset(hiccupPeriod)
		select {
		case <-ctx.Done():
			return h
		case <-t.C:
		}
		h.RecordValue(latencyUs(int64(time.Since(asked) - hiccupPeriod)))
	}
}

// spectrum is the latency at a fixed set of percentiles, for the distribution
// chart (HdrHistogram's percentile-spectrum layout).
func spectrum(h *hdrhistogram.Histogram) []SpectrumPoint {
	if h.TotalCount() == 0 {
		return nil
	}
	ps := []float64{0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 97.5, 98, 98.5, 99, 99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 100}
	vs := h.ValueAtPercentilesSlice(ps)
	out := make([]SpectrumPoint, 0, len(ps))
	for i, p := range ps {
		if p == 100 {
			vs[i] = h.Max()
		}
		out = append(out, SpectrumPoint{Percentile: p, Ms: float64(vs[i]) / 1000})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Percentile < out[j].Percentile })
	return out
}
