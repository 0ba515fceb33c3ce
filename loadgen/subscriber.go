package loadgen

// Subscriber invariants:
//
//   - One goroutine owns a subscriber: its socket, buffers, parser, per-topic
//     positions, counters and latency histogram. Nothing there is locked.
//     With the epoll reader, the subscriber's goroutine dials and reads the
//     response head, then hands the socket and the subscriber to its event
//     loop, which owns both until the stream ends and hands them back (with
//     the reason) through a channel; the goroutine waits and touches nothing
//     meanwhile. rec is set only while a loop owns the subscriber: latency
//     then goes to the loop's recorder, never to hist.
//   - What other goroutines need while it runs (progress, the drain wait) is
//     published once per socket read, not per event, through the atomics
//     deliveredA and posA, each written only by the owner.
//   - next[slot] is the sequence expected next on a topic; every measured
//     event either is next (delivered), lies ahead (a gap of Seq-next events,
//     then delivered), or lies behind (a duplicate, not delivered again).
//     pos = Σ next, so the drain is over once pos reaches what was published.
//   - A gap that follows a lagged or reset notice is "notified"; a gap with
//     no notice before it is silent loss, the one thing a server must never do.
//     One notice may cover several topics (a stream of all topics lags as a
//     whole), so it is counted per topic: notices counts them, and a gap on a
//     topic is notified when notices has grown since that topic's last event
//     (noticesSeen[slot]).
//     skippedPending is what lagged notices announced since the last measured
//     event: skipped events whose gap has not shown yet.
//   - Latency is the receive time minus the event's intended send time, both
//     on the run's monotonic clock (R1, clock.go); every event of one read
//     shares its receive time: when its last bytes reached the socket (epoll
//     reader, poll_linux.go) or else when it was read.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"math"
	"math/rand"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

const (
	classSteady  = 0
	classSpecial = 1
)

// subscriberEnv is what the subscribers need from their run, handed to each
// when it is built; nothing else of the run is within their reach. They read
// the settings, the clock and the measured phase, record latency into the
// collector, and add to the tallies, which the run reads.
type subscriberEnv struct {
	cfg            *Config // read only
	ep             endpoint
	eps            []endpoint // one per node (Config.URLs), else ep alone
	clock          clock
	measure        *measurement
	coll           *collector
	intervalNs     int64 // the latency series' interval
	readyOnConnect bool  // the idle scenario: connected is ready (no warm-up)

	ready       atomic.Int64 // subscribers that are ready (R3, schedule.go)
	loopStreams atomic.Int64 // streams handed to event loops
	conns       *connTally
	errs        *errTally
}

type subscriber struct {
	env    *subscriberEnv
	idx    int
	class  int
	dialer *net.Dialer
	ep     *endpoint // the node it streams from
	uri    string
	// topic is the single topic subscribed to; with all topics, slots are
	// topic indexes.
	topic     uint32
	allTopics bool
	next      []uint64

	parser *Parser
	buf    []byte
	dec    chunkDecoder
	recvNs int64
	rng    *rand.Rand

	loop *pollLoop      // the event loop that reads steady streams, or nil
	rec  *denseRecorder // the loop's recorder while the loop owns s

	hist         *hdrhistogram.PackedHistogram
	histInterval int64
	histClamped  int64

	ready       bool
	notices     uint64   // lagged and reset notices so far
	noticesSeen []uint64 // notices at each topic's last measured event
	churnAt     time.Time

	// Owned by the goroutine; read by the run after it ends.
	delivered, dups, foreign               int64
	gaps, gapEvents, silentEvents          int64
	lagged, skipped, resets, resetMissed   int64
	skippedPending                         int64
	reconnects, churns, disconnects, conns int64

	deliveredA atomic.Int64
	posA       atomic.Uint64
	lossA      atomic.Int64
	doneA      atomic.Bool
}

// newSubscribers builds Config.Subscribers subscribers sharing env, spread
// over the source addresses and, unless every one takes all topics, over
// topics.
func newSubscribers(env *subscriberEnv, topics []string) []*subscriber {
	cfg := env.cfg
	loopback := true
	for _, ep := range env.eps {
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
	subs := make([]*subscriber, cfg.Subscribers)
	for i := range subs {
		s := &subscriber{
			env:       env,
			idx:       i,
			dialer:    dialers[i%nAddrs],
			allTopics: cfg.AllTopics,
			rng:       rand.New(rand.NewSource(seed + int64(i))),
			hist:      newPacked(),
			ep:        &env.eps[i%len(env.eps)],
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
			s.uri = s.ep.requestURI([]string{topics[s.topic]})
		}
		s.noticesSeen = make([]uint64, len(s.next))
		s.parser = NewParser(s.onEvent)
		s.parser.MaxEventBytes = cfg.MaxEventBytes
		subs[i] = s
	}
	return subs
}

func (s *subscriber) slot(topic uint32) int {
	if s.allTopics {
		if int(topic) < len(s.next) {
			return int(topic)
		}
		return -1
	}
	if topic == s.topic {
		return 0
	}
	return -1
}

func (s *subscriber) onEvent(ev *Event) {
	switch string(ev.Type) {
	case "lagged":
		s.lagged++
		if n, ok := jsonUint(ev.Data, "skipped"); ok {
			s.skipped += int64(n)
			s.skippedPending += int64(n)
		}
		s.notices++
		return
	case "reset":
		s.resets++
		if n, ok := jsonUint(ev.Data, "missed"); ok {
			s.resetMissed += int64(n)
		}
		s.notices++
		return
	}
	st, ok := DecodePayload(ev.Data)
	if !ok {
		s.foreign++
		return
	}
	if st.Warmup {
		if !s.ready {
			s.ready = true
			s.env.ready.Add(1)
		}
		return
	}
	sl := s.slot(st.Topic)
	if sl < 0 {
		s.foreign++
		return
	}
	next := s.next[sl]
	switch {
	case st.Seq == next:
	case st.Seq > next:
		gap := int64(st.Seq - next)
		s.gaps++
		s.gapEvents += gap
		if s.noticesSeen[sl] == s.notices {
			s.silentEvents += gap
		}
	default:
		s.dups++
		return
	}
	s.noticesSeen[sl] = s.notices
	s.skippedPending = 0
	s.next[sl] = st.Seq + 1
	s.delivered++

	start := s.env.measure.start() // final: this is a measured event (R2)
	interval := (st.IntendedNs - start) / s.env.intervalNs
	if s.rec != nil {
		s.rec.record(s.class, interval, latencyUs(s.recvNs-st.IntendedNs))
		return
	}
	if interval != s.histInterval {
		s.flushHist()
		s.histInterval = interval
	}
	us := latencyUs(s.recvNs - st.IntendedNs)
	if us == latencyMaxUs {
		s.histClamped++
	}
	s.hist.RecordValue(us)
}

func (s *subscriber) flushHist() {
	if s.hist.TotalCount() == 0 {
		return
	}
	s.env.coll.add(s.class, s.histInterval, s.hist, s.histClamped)
	s.hist.Reset()
	s.histClamped = 0
}

func (s *subscriber) publishProgress() {
	s.deliveredA.Store(s.delivered)
	var pos uint64
	for _, n := range s.next {
		pos += n
	}
	s.posA.Store(pos)
	s.lossA.Store(s.gapEvents)
}

// jsonUint reads the unsigned integer value of "key" in a small JSON object
// without decoding it (null or anything else is not ok).
func jsonUint(data []byte, key string) (uint64, bool) {
	var pat [64]byte
	p := append(pat[:0], '"')
	p = append(p, key...)
	p = append(p, '"')
	i := bytes.Index(data, p)
	if i < 0 {
		return 0, false
	}
	rest := data[i+len(p):]
	rest = bytes.TrimLeft(rest, " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return 0, false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	var v uint64
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' && n < 19 {
		v = v*10 + uint64(rest[n]-'0')
		n++
	}
	return v, n > 0
}

var errChurn = errors.New("churn: client closed the stream on purpose")

// run connects, reads and reconnects until ctx ends.
func (s *subscriber) run(ctx context.Context, startAt time.Time) {
	defer s.flushHist()
	if !sleepUntil(ctx, startAt) {
		return
	}
	for {
		err := s.session(ctx)
		s.publishProgress()
		if ctx.Err() != nil {
			return
		}
		s.disconnects++
		if errors.Is(err, errChurn) {
			s.churns++
			s.reconnects++
			if d := s.env.cfg.ChurnOffline; d > 0 && !sleepUntil(ctx, time.Now().Add(d)) {
				return
			}
			continue
		}
		s.env.errs.note(err)
		if s.env.cfg.NoReconnect {
			s.doneA.Store(true)
			return
		}
		delay := s.env.cfg.ReconnectDelay
		if delay == 0 {
			delay = time.Second
			if d, ok := s.parser.Retry(); ok {
				delay = d
			}
		}
		if !sleepUntil(ctx, time.Now().Add(delay)) {
			return
		}
		s.reconnects++
	}
}

// session is one connection, from dial to the end of its stream.
func (s *subscriber) session(ctx context.Context) error {
	cfg := s.env.cfg
	dctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	t := time.Now()
	s.env.conns.sockets.Add(1)
	conn, head, body, err := openStream(dctx, s.dialer, *s.ep, s.uri, s.parser.LastEventID(), s.buf)
	cancel()
	if err != nil {
		s.env.conns.sockets.Add(-1)
		return err
	}
	defer s.env.conns.sockets.Add(-1) // after conn.Close, deferred below
	s.env.conns.opened(time.Since(t))
	s.conns++
	defer s.env.conns.closed()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	s.parser.Reset()
	s.dec.reset()
	remaining := head.contentLength
	if s.env.readyOnConnect && !s.ready {
		s.ready = true
		s.env.ready.Add(1)
	}
	s.recvNs = s.env.clock.now()
	if err := s.consume(body, head, &remaining); err != nil {
		return err
	}
	if s.loop != nil {
		if remaining == 0 || (head.chunked && s.dec.done()) {
			return &streamError{"closed", io.EOF}
		}
		if err, ok := s.loop.serve(s, conn, head, remaining); ok {
			return err
		}
		// The loop has stopped: read here.
	}
	slow := s.class == classSpecial && cfg.Scenario == ScenarioSlow
	churn := s.class == classSpecial && cfg.Scenario == ScenarioChurn
	for {
		if remaining == 0 || (head.chunked && s.dec.done()) {
			return &streamError{"closed", io.EOF}
		}
		readSize := len(s.buf)
		if slow && s.ready && s.env.measure.running() {
			if cfg.SlowMode == "stall" {
				<-ctx.Done()
				return ctx.Err()
			}
			if !sleepUntil(ctx, time.Now().Add(cfg.SlowReadInterval)) {
				return ctx.Err()
			}
			readSize = min(readSize, cfg.SlowReadBytes)
		}
		if churn && s.env.measure.running() {
			if s.churnAt.IsZero() {
				life := float64(cfg.ChurnEvery) * (0.5 + s.rng.Float64())
				s.churnAt = time.Now().Add(time.Duration(life))
			}
			conn.SetReadDeadline(s.churnAt)
		}
		n, err := conn.Read(s.buf[:readSize])
		s.recvNs = s.env.clock.now()
		if n > 0 {
			if ferr := s.consume(s.buf[:n], head, &remaining); ferr != nil {
				return ferr
			}
			s.publishProgress()
		}
		if err != nil {
			if churn && errors.Is(err, os.ErrDeadlineExceeded) {
				s.churnAt = time.Time{}
				return errChurn
			}
			if err == io.EOF {
				return &streamError{"closed", err}
			}
			return &streamError{"read", err}
		}
	}
}

// consume passes body bytes through the chunked decoder (when the server
// chunks) into the parser; remaining counts down a Content-Length body.
func (s *subscriber) consume(b []byte, head streamHead, remaining *int64) error {
	if len(b) == 0 {
		return nil
	}
	if head.chunked {
		if err := s.dec.feed(b, s.feedParser); err != nil {
			if _, ok := err.(*streamError); ok {
				return err
			}
			return &streamError{"chunked", err}
		}
		return nil
	}
	if *remaining >= 0 {
		if int64(len(b)) > *remaining {
			b = b[:*remaining]
		}
		*remaining -= int64(len(b))
	}
	return s.feedParser(b)
}

func (s *subscriber) feedParser(b []byte) error {
	if err := s.parser.Feed(b); err != nil {
		return &streamError{"parse", err}
	}
	return nil
}

// sleepUntil waits for t or ctx, whichever is first; false when ctx ended.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}
