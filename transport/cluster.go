package transport

// Cluster mode: several nodes share one event log (eventlog.go; on NATS
// JetStream, jetstream.go), each follows it into its own ring (follower.go),
// and a client resumes exactly on any node.
//
//   - Publish validates, appends to the log, and answers with the log's ids
//     once it acknowledged; the event reaches every node's ring, this one's
//     included, through its follower.
//   - A resume inside the node's ring is served by the ring engine as in a
//     single node. One older than the ring is replayed from the log (a
//     short-lived filtered reader) and handed over to the ring with no gap
//     and no duplicate; one older than the log gets "reset" (too-old); one
//     ahead of this node (the client came from a node that is ahead) waits
//     for the follower.
//
// Invariants:
//   C1. A logSub has delivered, or accounted for, every event of its topics
//       up to g. It moves to the ring only at a g the ring still holds the
//       successor of (g+1 >= oldestSeq) and the follower has applied
//       (g <= applied), through the ring engine's exact resume after g.
//       The successor is checked again under the engine's mu
//       (subscribeHeld): the follower may have moved the ring on since. A g
//       in the ring's older half is replayed from the log instead
//       (servesFromRing), so a client is not overrun at the ring's tail.
//   C2. A replay ends (done) only when the log held nothing more for the
//       filter at some moment after cBefore was read, so g = max(last
//       replayed, cBefore) satisfies C1's first half: every event up to
//       cBefore was in the log when the replay started.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/ringcast/ringcast/transport/internal/eventid"
	"github.com/ringcast/ringcast/transport/internal/sse"
)

// stallAfter is how long a follower that is behind the log may go without
// applying anything, counted from its last apply or from when the monitor
// first saw it behind, whichever is later, before /healthz calls it stalled
// (cluster.stallAfter;
// tests shorten it).
const stallAfter = 3 * time.Second

// maxReplays bounds the log replays that run at once on a node; a resume
// beyond it waits its turn (with keep-alives), rather than being refused:
// EventSource gives up on a non-200 answer.
const maxReplays = 32

// withClusterDefaults fills and checks the cluster fields.
func (c Config) withClusterDefaults() (Config, error) {
	if c.NATSURL == "" {
		return c, nil
	}
	if c.NATSStream == "" {
		c.NATSStream = "ringcast"
	}
	if c.NATSMaxAge == 0 {
		c.NATSMaxAge = 24 * time.Hour
	}
	if c.NATSMaxBytes == 0 {
		c.NATSMaxBytes = 1 << 30
	}
	if c.NATSReplicas == 0 {
		c.NATSReplicas = 1
	}
	if c.NATSPublishTimeout == 0 {
		c.NATSPublishTimeout = 2 * time.Second
	}
	if c.NATSMaxBatch == 0 {
		c.NATSMaxBatch = 1000
	}
	switch {
	case c.Engine != EngineRing:
		return c, configError("Engine", ErrConflict, "%q cannot run in cluster mode (NATSURL): the nodes follow the log into a ring", c.Engine)
	case c.Debounce != 0:
		return c, configError("Debounce", ErrConflict, "%v is not supported in cluster mode (NATSURL) yet", c.Debounce)
	case strings.ContainsAny(c.NATSStream, " \t.*>/\\") || len(c.NATSStream) > 255:
		return c, configError("NATSStream", ErrMalformed, "%q is not a JetStream stream name (no spaces, '.', '*', '>', '/' or '\\\\')", c.NATSStream)
	case c.NATSMaxAge < -1:
		return c, configError("NATSMaxAge", ErrOutOfRange, "%v must be positive, or -1 for no limit", c.NATSMaxAge)
	case c.NATSMaxBytes < -1:
		return c, configError("NATSMaxBytes", ErrOutOfRange, "%d must be positive, or -1 for no limit", c.NATSMaxBytes)
	case c.NATSReplicas < 1 || c.NATSReplicas > 5:
		return c, configError("NATSReplicas", ErrOutOfRange, "%d out of range [1, 5]", c.NATSReplicas)
	case c.NATSPublishTimeout < time.Millisecond:
		return c, configError("NATSPublishTimeout", ErrOutOfRange, "%v must be at least 1ms", c.NATSPublishTimeout)
	case c.NATSMaxBatch < 1:
		return c, configError("NATSMaxBatch", ErrOutOfRange, "%d must be at least 1", c.NATSMaxBatch)
	}
	if c.NATSMaxAge == -1 {
		c.NATSMaxAge = 0 // JetStream's "no limit"
	}
	return c, nil
}

// cluster is a node's side of cluster mode.
type cluster struct {
	cfg     *Config
	log     eventLog
	eng     *logEngine
	f       *follower
	m       *serverMetrics
	lg      *slog.Logger
	replays chan struct{} // maxReplays slots

	stallAfter time.Duration // /healthz's "stalled" threshold: the const stallAfter; set before the node serves

	resumeFails *metrics.Counter // resumes ended because the log could not be read

	// recreated: the log has another epoch than this node's ring (L3), and
	// the node has not yet followed it (recreate).
	recreated   atomic.Bool
	recreations *metrics.Counter

	// behindSince is when the monitor first saw the follower behind the
	// log's last seq (UnixNano), 0 while it is not: a node that was idle
	// for long and then falls behind is not stalled until it has stayed
	// behind, without applying, for stallAfter.
	behindSince atomic.Int64

	stopMonitor, monitorDone chan struct{}

	mu       sync.Mutex // guards the monitor's last look:
	logOK    bool       // the log answered
	logFirst uint64     // its first and last seqs then
	logLast  uint64
}

// joinCluster opens the log, takes its epoch and starts the follower.
func (s *Server) joinCluster() error {
	e, ok := s.eng.(*ringEngine)
	if !ok {
		return configError("Engine", ErrConflict, "cluster mode (NATSURL) needs Engine ring")
	}
	l, err := openJetStreamLog(&s.cfg)
	if err != nil {
		return err
	}
	s.cfg.Epoch = l.epoch() // L3: the same on every node
	e.epoch = s.cfg.Epoch
	le := newLogEngine(e, &s.cfg, s.m)
	s.eng = le
	c := &cluster{
		cfg: &s.cfg, log: l, eng: le, m: s.m, lg: s.log,
		replays:     make(chan struct{}, maxReplays),
		stallAfter:  stallAfter,
		stopMonitor: make(chan struct{}),
		monitorDone: make(chan struct{}),
		resumeFails: s.m.set.NewCounter("ringcast_log_resume_failures_total"),
		recreations: s.m.set.NewCounter("ringcast_log_recreations_total"),
	}
	c.f, err = startFollower(l, le, s.m.set, s.log)
	if err != nil {
		l.close()
		return err
	}
	s.m.set.NewGauge("ringcast_log_connected", func() float64 { return float64(boolInt(l.connected())) })
	s.m.set.NewGauge("ringcast_log_applied_seq", func() float64 { return float64(c.f.applied.Load()) })
	s.m.set.NewGauge("ringcast_log_last_seq", func() float64 { _, _, last := c.state(); return float64(last) })
	s.m.set.NewGauge("ringcast_log_follower_lag", func() float64 { return float64(c.lag()) })
	go c.monitor()
	s.cluster = c
	return nil
}

// monitor reads the log's bounds every second, for /healthz and the metrics.
func (c *cluster) monitor() {
	defer close(c.monitorDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		first, last, err := c.log.bounds(ctx)
		cancel()
		if errors.Is(err, errLogRecreated) && !c.recreated.Swap(true) {
			c.recreations.Inc()
			c.lg.Error("event log: the stream was recreated; this node ends its streams and follows the new one", "err", err)
		}
		if c.recreated.Load() {
			if rerr := c.recreate(); rerr != nil {
				c.lg.Warn("event log: following the recreated stream; trying again in a second", "err", rerr)
				err = rerr
			} else {
				c.recreated.Store(false)
				c.lg.Info("event log: following the recreated stream", "epoch", c.epoch())
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				first, last, err = c.log.bounds(ctx)
				cancel()
			}
		}
		c.mu.Lock()
		if c.logOK = err == nil; err == nil {
			c.logFirst, c.logLast = first, last
		}
		c.mu.Unlock()
		if err == nil {
			if last > c.f.applied.Load() {
				c.behindSince.CompareAndSwap(0, time.Now().UnixNano())
			} else {
				c.behindSince.Store(0)
			}
		}
		select {
		case <-c.stopMonitor:
			return
		case <-t.C:
		}
	}
}

// recreate follows a log that was recreated (L3): the follower stops, the
// ring engine is replaced by an empty one of the new epoch, so every stream
// ends and its client comes back with an id of the old epoch, which gets
// "reset" (epoch), and the follower begins again on the new log. Each step
// can be taken again: one that fails is retried at the monitor's next look.
func (c *cluster) recreate() error {
	ctx, cancel := context.WithTimeout(context.Background(), followRequestTimeout)
	defer cancel()
	ep, err := c.log.renewEpoch(ctx)
	if err != nil {
		return err
	}
	if c.epoch() != ep {
		c.f.stop()
		if c.eng.restart(ep) == nil {
			return errEngineClosed // shutting down
		}
	}
	return c.f.restart(c.log)
}

// epoch is the epoch of the node's current ring engine: its log's (L3).
func (c *cluster) epoch() string { return c.eng.cur.Load().epoch }

func (c *cluster) state() (ok bool, first, last uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logOK, c.logFirst, c.logLast
}

// lag is how far the follower is behind the log's last seq as last seen.
func (c *cluster) lag() uint64 {
	_, _, last := c.state()
	if a := c.f.applied.Load(); last > a {
		return last - a
	}
	return 0
}

func (c *cluster) close() {
	close(c.stopMonitor)
	<-c.monitorDone
	c.f.stop()
	c.log.close()
}

// writeHealth is /healthz in cluster mode: 200 only when the log is
// reachable and this node has applied what it holds. A follower that has
// not moved for stallAfter while behind is "stalled", never healthy.
func (c *cluster) writeHealth(ctx *fasthttp.RequestCtx, streams int64) {
	ok, _, last := c.state()
	applied := c.f.applied.Load()
	last = max(last, applied) // the monitor looks once a second
	status := "ok"
	switch {
	case c.recreated.Load():
		status = "log-recreated"
	case !c.f.ready.Load():
		status = "starting"
	case !ok || !c.log.connected():
		status = "log-unavailable"
	case applied < last && time.Since(time.Unix(0, max(c.f.lastAt.Load(), c.behindSince.Load()))) > c.stallAfter:
		status = "stalled"
	}
	if status != "ok" {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
	}
	fmt.Fprintf(ctx, `{"status":%q,"engine":"ring","epoch":%q,"streams":%d,"log":{"stream":%q,"connected":%t,"last":%d,"applied":%d,"lag":%d}}`+"\n",
		status, c.epoch(), streams, c.cfg.NATSStream, c.log.connected(), last, applied, c.lag())
}

// publish appends evs (validated) to the log as one batch and returns their
// ids once the log acknowledged them.
func (c *cluster) publish(key string, evs []Event) ([]string, error) {
	start := time.Now()
	recs := make([]logRecord, len(evs))
	for i := range evs {
		recs[i] = logRecord{topic: evs[i].Topic, body: sse.AppendEvent(nil, evs[i].Event, evs[i].Data)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.NATSPublishTimeout)
	defer cancel()
	if js, ok := c.log.(*jetStreamLog); ok && !js.atomic && len(recs) > 1 {
		seqs, err := js.appendEach(ctx, key, recs)
		if err != nil {
			return nil, fmt.Errorf("%w; a retry with the same Idempotency-Key is safe", err)
		}
		return c.ids(evs, seqs, start), nil
	}
	first, err := c.log.append(ctx, key, recs)
	if errors.Is(err, errDuplicateBatch) {
		// L2: stored before under this key; the follower knows where.
		wctx, wcancel := context.WithTimeout(context.Background(), logWait)
		first, err = c.f.waitKey(wctx, key)
		wcancel()
		if err != nil {
			err = fmt.Errorf("%w: a batch with this Idempotency-Key is stored, but this node has not applied it yet", ErrLogUnavailable)
		}
	}
	if err != nil {
		if errors.Is(err, ErrLogUnavailable) {
			err = fmt.Errorf("%w; a retry with the same Idempotency-Key is safe", err)
		}
		return nil, err
	}
	seqs := make([]uint64, len(evs))
	for i := range seqs {
		seqs[i] = first + uint64(i)
	}
	return c.ids(evs, seqs, start), nil
}

// ids counts a publish that the log acknowledged and returns its ids.
func (c *cluster) ids(evs []Event, seqs []uint64, start time.Time) []string {
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = eventid.Format(c.epoch(), seqs[i], evs[i].Topic)
	}
	c.m.published.Add(len(evs))
	c.m.publishDur.UpdateDuration(start)
	return ids
}

// subscribe is the engine's subscribe, except for a resume point of this
// epoch outside the node's ring: a logSub replays it from the log or waits
// for the follower, then moves to the ring.
func (s *Server) subscribe(sel selection, res resumePoint) (subscription, []byte, error) {
	c := s.cluster
	if c != nil && !res.given && !c.f.ready.Load() {
		// A new client of a node still prefilling starts where the log
		// ended when the node started, not at the prefill's old events.
		g, e := c.f.target.Load(), c.eng.cur.Load()
		return &logSub{c: c, e: e, sel: sel, res: resumePoint{given: true, epoch: e.epoch, seq: g}, g: g}, nil, nil
	}
	if c == nil || !res.given || res.malformed {
		return s.eng.subscribe(sel, res)
	}
	e := c.eng.cur.Load()
	if res.epoch != e.epoch { // the engine answers "reset" (epoch)
		return e.subscribe(sel, res)
	}
	if servesFromRing(e, res.seq) {
		if sub, notice, err := e.subscribeHeld(sel, res); sub != nil || err != nil {
			return sub, notice, err
		}
		// The ring dropped the resume point's successor since: the log
		// still holds it.
	}
	return &logSub{c: c, e: e, sel: sel, res: res, g: res.seq}, nil, nil
}

// servesFromRing reports whether a resume after g is served from e's ring:
// only one in the newest half of it. One at its tail could be overrun by
// the follower before the client caught up, and get a lag notice for
// events the log still holds; an older one replays from the log and hands
// over near the ring's head.
func servesFromRing(e *ringEngine, g uint64) bool {
	cur := e.cursorSeq()
	return g <= cur && cur-g <= uint64(e.global.Cap()/2) && g+1 >= e.oldestSeq()
}

// logSub is a client's stream while its history comes from the log, then
// (inner) the ring engine's subscription. Its work happens in wait, on the
// stream's goroutine: a log it cannot reach ends the stream cleanly
// (errEngineClosed), so the client comes back with its id, never with a
// false reset.
type logSub struct {
	c       *cluster
	e       *ringEngine // the engine it started on (R2)
	sel     selection
	res     resumePoint
	g       uint64 // C1
	rp      logReplay
	slot    bool   // holds one of c.replays
	cBefore uint64 // C2
	out     []*frame
	notice  []byte
	inner   subscription
}

func (s *logSub) wait(ctx context.Context) error {
	for s.notice == nil && len(s.out) == 0 {
		if s.inner != nil {
			return s.inner.wait(ctx)
		}
		if err := s.step(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !errors.Is(err, errEngineClosed) {
				s.c.resumeFails.Inc()
			}
			s.releaseReplay()
			return errEngineClosed
		}
	}
	return nil
}

// step moves the subscription on by one stage.
func (s *logSub) step(ctx context.Context) error {
	c := s.c
	if c.eng.cur.Load() != s.e { // R2: the node rebased
		return errEngineClosed
	}
	if s.rp != nil {
		entries, done, err := s.rp.next(ctx, batchReads)
		for i := range entries {
			f := logFrame(entries[i].topic, entries[i].body)
			f.stamp(s.e.epoch, entries[i].seq)
			s.out = append(s.out, f)
			s.g = entries[i].seq
		}
		if err != nil {
			return err
		}
		if done {
			s.g = max(s.g, s.cBefore) // C2
			s.releaseReplay()
		}
		return nil
	}
	if s.g > s.e.cursorSeq() || s.g+1 >= s.e.oldestSeq() {
		if s.g > c.f.applied.Load() {
			_, last, err := c.log.bounds(ctx)
			if err != nil {
				return err
			}
			if s.g > last { // never issued: the engine says so (malformed)
				return s.handover(s.res)
			}
			err = c.f.waitFor(ctx, func() bool { return c.f.applied.Load() >= s.g || c.eng.cur.Load() != s.e })
			if err != nil {
				return err
			}
			if c.eng.cur.Load() != s.e {
				return errEngineClosed // R2
			}
		}
		if servesFromRing(s.e, s.g) {
			sub, notice, err := s.e.subscribeHeld(s.sel, resumePoint{given: true, raw: s.res.raw, epoch: s.e.epoch, seq: s.g})
			if sub != nil || err != nil {
				return s.adopt(sub, notice, err)
			}
			// The ring dropped g+1 since: replay from the log.
		}
	}
	// Older than the ring: replay from the log (C2).
	if !s.slot {
		select {
		case c.replays <- struct{}{}:
			s.slot = true
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	first, _, err := c.log.bounds(ctx)
	if err != nil {
		return err
	}
	if s.g+1 < first { // older than the log: what it lost is gone
		missed := int64(unknownMissed)
		if s.sel.all {
			missed = int64(first - 1 - s.g)
		}
		s.notice = resetNotice(c.m, resetTooOld, s.res.raw, missed)
		s.g = first - 1
	}
	s.cBefore = s.e.cursorSeq()
	s.rp, err = c.log.replay(ctx, s.g+1, s.sel.topics)
	return err
}

// handover moves the client to the ring engine (C1).
func (s *logSub) handover(res resumePoint) error {
	sub, notice, err := s.e.subscribe(s.sel, res)
	return s.adopt(sub, notice, err)
}

// adopt makes sub, the ring engine's subscription, the client's stream.
func (s *logSub) adopt(sub subscription, notice []byte, err error) error {
	if err != nil {
		return err
	}
	s.inner = sub
	s.notice = append(s.notice, notice...)
	if len(s.notice) == 0 {
		s.notice = nil
	}
	return nil
}

func (s *logSub) releaseReplay() {
	if s.rp != nil {
		s.rp.close()
		s.rp = nil
	}
	if s.slot {
		<-s.c.replays
		s.slot = false
	}
}

func (s *logSub) fill(b *batch) error {
	if s.notice != nil {
		b.addRaw(s.notice)
		s.notice = nil
	}
	for len(s.out) > 0 && !b.full() {
		b.addFrame(s.out[0], true)
		s.out[0] = nil
		s.out = s.out[1:]
	}
	if len(s.out) > 0 || s.inner == nil {
		return nil
	}
	return s.inner.fill(b)
}

func (s *logSub) close() {
	s.releaseReplay()
	if s.inner != nil {
		s.inner.close()
	}
}

// PublishIdempotent is Publish with an idempotency key. In cluster mode a
// batch published again with the same key within the log's duplicate window
// (JetStream's, 2 minutes by default) is stored and delivered once, and the
// retry returns the first publish's ids; so a publish that failed with
// ErrLogUnavailable, stored or not, can be retried safely with its key. The
// retry must carry the same events. On a single node the key is ignored.
func (s *Server) PublishIdempotent(key string, evs ...Event) ([]string, error) {
	if !validKey(key) {
		return nil, ErrInvalidKey
	}
	return s.publishKeyed(key, evs)
}

// idempotencyKey returns POST /publish's Idempotency-Key header ("" when
// absent), and false when it is not a valid key.
func idempotencyKey(ctx *fasthttp.RequestCtx) (string, bool) {
	k := ctx.Request.Header.Peek("Idempotency-Key")
	if k == nil {
		return "", true
	}
	return string(k), validKey(string(k))
}

func validKey(k string) bool {
	if len(k) == 0 || len(k) > 128 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f {
			return false
		}
	}
	return true
}
