package loadgen

// A run's invariants live with the code they govern: the run's clock and
// the measured phase's start (R1, R2) in clock.go, the warm-up and the
// open-loop schedule (R3, R4) in schedule.go. execute puts the phases in
// their order: subscribers warmed up (R3), then the measured phase begun
// (R2), then its first event published (R4).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// run is one load run: it builds the publisher's schedule and the
// subscribers, orders the phases, and gathers the Result.
type run struct {
	cfg     Config
	clock   clock
	measure measurement
	coll    *collector
	sched   *schedule
	subs    []*subscriber
	env     *subscriberEnv // shared by every subscriber; the run reads its tallies

	httpc  *http.Client
	server *serverSampler

	series seriesLog
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
	if len(cfg.URLs) > 1 { // several nodes (Config.URLs)
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
		cfg:   cfg,
		clock: clock{time.Now()},
		coll:  newCollector(),
		httpc: &http.Client{Timeout: 30 * time.Second},
	}
	r.env = &subscriberEnv{
		cfg:            &r.cfg,
		ep:             ep,
		eps:            eps,
		clock:          r.clock,
		measure:        &r.measure,
		coll:           r.coll,
		intervalNs:     int64(cfg.Interval),
		readyOnConnect: cfg.Scenario == ScenarioIdle,
		conns:          newConnTally(),
		errs:           newErrTally(),
	}
	r.sched = newSchedule(&r.cfg, r.clock)
	if r.sched.pub, err = r.buildPublisher(); err != nil {
		return nil, err
	}
	r.subs = newSubscribers(r.env, r.sched.topics)
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

func (r *run) execute(ctx context.Context) (*Result, error) {
	cfg := &r.cfg
	res := &Result{Scenario: cfg.Scenario, Target: cfg.SSEURL, Started: time.Now()}
	r.server = newServerSampler(ctx, cfg, r.httpc)
	idle := cfg.Scenario == ScenarioIdle
	if idle {
		r.server.gc(ctx)
	}
	baseline, srvErr := r.server.sample(ctx)
	var baseLive float64
	if idle {
		baseLive = r.server.liveMemory(ctx)
	}

	loops, stop, err := r.start(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Scenario == ScenarioIdle {
		r.waitReady(ctx, cfg.WarmupTimeout)
	} else if err := r.sched.warmup(ctx, &r.env.ready, len(r.subs)); err != nil { // R3
		stop()
		return nil, err
	}
	before := r.server.counters(ctx)
	atStart, err := r.server.sample(ctx)
	srvErr = errors.Join(srvErr, err)
	cpuStart := selfCPU()
	r.measure.begin(r.clock.now()) // R2: before the first measured event (R4)
	stopHiccups := startHiccupMeter(ctx)

	var profiles chan []ProfileSummary
	if cfg.Profile {
		profiles = make(chan []ProfileSummary, 1)
		go func() {
			profiles <- captureProfiles(ctx, cfg.AdminURL, cfg.ProfileSeconds, cfg.ProfileDir)
		}()
	}
	if cfg.Scenario == ScenarioIdle {
		res.Idle = &IdleResult{Connections: int(r.env.conns.open.Load()), RSSBefore: baseline.RSS}
		sleepUntil(ctx, time.Now().Add(cfg.Duration))
		res.Idle.ConnectionsHeld = int(r.env.conns.open.Load())
	} else {
		r.sched.publish(ctx, r.measure.start()) // R4
		r.drain(ctx)
	}
	res.Measured = time.Duration(r.clock.now() - r.measure.start())
	hiccup := stopHiccups()
	cpuEnd := selfCPU()
	if idle {
		r.server.gc(ctx)
	}
	final, err := r.server.sample(ctx)
	srvErr = errors.Join(srvErr, err)
	if res.Idle != nil {
		r.finishIdle(ctx, res.Idle, baseline, final, srvErr, baseLive)
	}
	var after map[string]float64
	if before != nil {
		after = r.server.counters(ctx)
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
	r.finishClient(res, loops, hiccup, cpuStart, cpuEnd)
	if r.server.src != nil {
		res.Server = r.server.stats(baseline, atStart, final, srvErr, res.Measured, res.Series)
		if after != nil {
			res.Server.Counters = counterDeltas(before, after)
		}
	}
	return res, nil
}

// start starts the progress loop, the event loops (for the epoll reader) and
// the subscribers, each at its time under ConnectRate. stop ends them all
// and waits for them; it may be called more than once.
func (r *run) start(ctx context.Context) (loops *pollGroup, stop func(), err error) {
	cfg := &r.cfg
	subCtx, cancelSubs := context.WithCancel(ctx)
	progCtx, stopProgress := context.WithCancel(ctx)
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		r.progressLoop(progCtx)
	}()
	if cfg.Reader == ReaderEpoll {
		if loops, err = startPollGroup(subCtx, cfg.ReadBuffer, r.coll); err != nil {
			cancelSubs()
			stopProgress()
			<-progDone
			return nil, nil, fmt.Errorf("epoll reader: %v", err)
		}
		k := 0
		for _, s := range r.subs {
			if s.class == classSteady {
				s.loop = loops.loops[k%len(loops.loops)]
				k++
			}
		}
	}
	var subsWG sync.WaitGroup
	stop = func() {
		cancelSubs()
		subsWG.Wait()
		if loops != nil {
			loops.wait()
		}
		stopProgress()
		<-progDone
	}

	now := time.Now()
	subsWG.Add(len(r.subs))
	for i, s := range r.subs {
		at := now
		if cfg.ConnectRate > 0 {
			at = now.Add(time.Duration(float64(i) / cfg.ConnectRate * float64(time.Second)))
		}
		go func() {
			defer subsWG.Done()
			s.run(subCtx, at)
		}()
	}
	return loops, stop, nil
}

// waitReady polls until every subscriber is ready or the timeout passes.
func (r *run) waitReady(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for r.env.ready.Load() < int64(len(r.subs)) && time.Now().Before(deadline) {
		if !sleepUntil(ctx, time.Now().Add(10*time.Millisecond)) {
			return
		}
	}
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
			if s.posA.Load() < r.sched.target(s) && !s.doneA.Load() {
				keep = append(keep, s)
			}
		}
		pending = keep
		if len(pending) == 0 || !sleepUntil(ctx, time.Now().Add(5*time.Millisecond)) {
			return
		}
	}
}
