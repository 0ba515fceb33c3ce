package transport

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/ringcast/ringcast/transport/internal/sse"
)

// ErrClosed is returned by Publish once Shutdown has begun.
var ErrClosed = errors.New("transport: server is shutting down")

// Middleware wraps a handler; see Server.Use.
type Middleware func(next fasthttp.RequestHandler) fasthttp.RequestHandler

// Server is an SSE server: it accepts events by POST /publish or Publish and
// streams them to clients of GET /events. Create it with New, add routes and
// middleware before the first Serve, and stop it with Shutdown.
type Server struct {
	cfg Config
	log *slog.Logger
	eng engine
	deb *debouncer
	m   *serverMetrics

	fast    *fasthttp.Server
	admin   *fasthttp.Server
	routes  map[string]fasthttp.RequestHandler
	mws     []Middleware
	build   sync.Once
	handler fasthttp.RequestHandler

	retryFrame   []byte // "retry: <ms>\n\n", the first bytes of every stream
	corsAny      bool
	corsOrigins  []string
	tick         time.Duration // the sweeper's period
	pacer        *pacer        // the batch window (pacing.go)
	start        time.Time     // stream clocks count from here
	keepAliveDue int64         // idle nanoseconds after which a keep-alive is sent

	// pubMu: Publish holds it shared while it checks closing and publishes;
	// Shutdown takes it exclusively once, so that no publish lands after the
	// streams have taken their last look.
	pubMu   sync.RWMutex
	closing atomic.Bool

	streamsMu  sync.Mutex
	streams    map[*stream]struct{}
	streamsWG  sync.WaitGroup
	nStreams   atomic.Int64
	sweepOnce  sync.Once
	sweepStop  chan struct{}
	sweepDone  chan struct{}
	shutdownMu sync.Mutex
	shutDown   bool
	listeners  []net.Listener

	// testHookAfterWrite, when set, runs after each write of events to a
	// stream. Tests use it to hold a client still, between two reads of its
	// subscription, while the writer overruns it.
	testHookAfterWrite func()

	guard *guard // connection limits, tokens, request limits (guard.go)
}

// New builds a server from cfg (zero fields take their defaults).
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		routes:     map[string]fasthttp.RequestHandler{},
		streams:    map[*stream]struct{}{},
		sweepStop:  make(chan struct{}),
		sweepDone:  make(chan struct{}),
		start:      time.Now(),
		retryFrame: sse.AppendRetry(nil, cfg.Retry.Milliseconds()),
	}
	for _, o := range cfg.CORSOrigins {
		if o = strings.TrimSpace(o); o == "*" {
			s.corsAny = true
		} else if o != "" {
			s.corsOrigins = append(s.corsOrigins, o)
		}
	}
	s.tick = min(max(cfg.KeepAlive/8, time.Millisecond), time.Second)
	s.pacer = newPacer(cfg.BatchWindow, cfg.WriteBudget)
	s.keepAliveDue = int64(cfg.KeepAlive - s.tick)
	s.m = newServerMetrics(
		func() float64 { return float64(s.nStreams.Load()) },
		func() float64 { return float64(s.eng.maxLag()) },
		func() float64 { return float64(s.eng.topicCount()) },
		func() float64 { return s.pacer.current().Seconds() },
	)
	switch cfg.Engine {
	case EngineChan:
		s.eng = newChanEngine(&s.cfg, s.m)
	default:
		e, err := newRingEngine(&s.cfg, s.m)
		if err != nil {
			return nil, err
		}
		s.eng = e
	}
	if cfg.Debounce > 0 {
		s.deb = newDebouncer(cfg.Debounce, func(frames []*frame) (uint64, error) {
			first, err := s.eng.publish(frames)
			if err == nil {
				s.m.published.Add(len(frames))
			}
			return first, err
		}, s.m)
	}
	s.routes["/events"] = s.handleEvents
	s.routes["/publish"] = s.handlePublish
	s.routes["/metrics"] = s.handleMetrics
	s.routes["/healthz"] = s.handleHealth
	s.routes["/"] = s.handleIndex
	s.fast = &fasthttp.Server{
		Name:               "ringcast",
		ReduceMemoryUsage:  true, // frees a connection's read buffer before its stream starts
		KeepHijackedConns:  true, // streams own their connections (see events.go)
		CloseOnShutdown:    true,
		ReadTimeout:        30 * time.Second,
		WriteTimeout:       cfg.WriteTimeout,
		IdleTimeout:        60 * time.Second,
		ReadBufferSize:     8 << 10,
		MaxRequestBodySize: cfg.MaxBodyBytes,
		ErrorHandler:       s.handleRequestError,
		Logger:             fastLogger{s.log},
	}
	s.installGuard()
	s.installWeb()
	return s, nil
}

// Config returns the configuration in effect, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Epoch returns the stream epoch that every event id of this server carries.
func (s *Server) Epoch() string { return s.cfg.Epoch }

// Handle serves path (exactly) with h, replacing any handler there, "/"
// included. Call it before the first Serve.
func (s *Server) Handle(path string, h fasthttp.RequestHandler) { s.routes[path] = h }

// Use wraps every route of the public listener in mw; the first Use is the
// outermost. Call it before the first Serve.
func (s *Server) Use(mw Middleware) { s.mws = append(s.mws, mw) }

// Handler returns the public handler: the routes, wrapped in the middleware.
func (s *Server) Handler() fasthttp.RequestHandler {
	s.build.Do(func() {
		h := s.route
		for _, mw := range slices.Backward(s.mws) {
			h = mw(h)
		}
		s.handler = h
	})
	return s.handler
}

func (s *Server) route(ctx *fasthttp.RequestCtx) {
	if h := s.routes[string(ctx.Path())]; h != nil {
		h(ctx)
		return
	}
	writeError(ctx, fasthttp.StatusNotFound, "no such endpoint: try GET /events, POST /publish, GET /metrics or GET /healthz")
}

// AdminHandler serves /debug/pprof/, /metrics and /healthz. It belongs on a
// listener that only operators reach (127.0.0.1:6060 by default).
func (s *Server) AdminHandler() fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		p := string(ctx.Path())
		switch {
		case strings.HasPrefix(p, "/debug/pprof/"):
			pprofhandler.PprofHandler(ctx)
		case p == "/metrics":
			s.handleMetrics(ctx)
		case p == "/healthz":
			s.handleHealth(ctx)
		default:
			writeError(ctx, fasthttp.StatusNotFound, "the admin listener serves /debug/pprof/, /metrics and /healthz")
		}
	}
}

// Serve accepts connections on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	h := s.Handler()
	if !s.track(ln) {
		return nil
	}
	s.fast.Handler = h
	return s.fast.Serve(s.guard.listener(ln))
}

// track records ln so that Shutdown closes it even when fasthttp has not
// registered it yet (a Shutdown racing with Serve would otherwise leave it
// accepting). It returns false, having closed ln, once Shutdown has begun.
func (s *Server) track(ln net.Listener) bool {
	s.shutdownMu.Lock()
	defer s.shutdownMu.Unlock()
	if s.shutDown {
		ln.Close()
		return false
	}
	s.listeners = append(s.listeners, ln)
	return true
}

// ListenAndServe listens on addr and serves until Shutdown.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// ServeAdmin serves AdminHandler on ln until Shutdown.
func (s *Server) ServeAdmin(ln net.Listener) error {
	s.shutdownMu.Lock()
	if s.admin == nil {
		s.admin = &fasthttp.Server{
			Name:         "ringcast-admin",
			Handler:      s.AdminHandler(),
			ReadTimeout:  30 * time.Second,
			WriteTimeout: 5 * time.Minute, // CPU profiles and traces take a while
			IdleTimeout:  time.Minute,
			Logger:       fastLogger{s.log},
		}
	}
	admin := s.admin
	s.shutdownMu.Unlock()
	if !s.track(ln) {
		return nil
	}
	return admin.Serve(ln)
}

// Shutdown stops the server: it stops accepting connections and publishes,
// publishes what the debouncer holds, lets every stream send what is ready
// and end its response cleanly, and returns when all streams are gone. When
// ctx ends first, the connections still open are closed (a client stuck in a
// write) and Shutdown returns ctx's error. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownMu.Lock()
	defer s.shutdownMu.Unlock()
	if s.shutDown {
		return nil
	}
	s.shutDown = true
	s.closing.Store(true)
	start := time.Now()

	stopErr := make(chan error, 2)
	go func() { stopErr <- s.fast.ShutdownWithContext(ctx) }()
	admin := s.admin
	if admin != nil {
		go func() { stopErr <- admin.ShutdownWithContext(ctx) }()
	}
	for _, ln := range s.listeners {
		ln.Close() // fasthttp closes those it has registered; this catches the rest
	}

	if s.deb != nil {
		s.deb.close() // publish what it holds while streams still run
	}
	s.pubMu.Lock() // wait for publishes in flight; later ones see closing
	s.pubMu.Unlock()

	s.kickStreams()
	done := make(chan struct{})
	go func() { s.streamsWG.Wait(); close(done) }()

	// Give streams until shortly before the deadline to end on their own,
	// then close what is left so that we return by the deadline.
	var force <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		margin := min(time.Until(dl)/10, 500*time.Millisecond)
		t := time.NewTimer(time.Until(dl) - margin)
		defer t.Stop()
		force = t.C
	}
	var err error
	select {
	case <-done:
	case <-force:
		n := s.forceCloseStreams()
		err = fmt.Errorf("transport: %d streams did not end in time; their connections were closed", n)
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	case <-ctx.Done():
		s.forceCloseStreams()
		err = ctx.Err()
	}
	s.stopSweeper()
	s.eng.close()
	for range 1 + boolInt(admin != nil) {
		select {
		case e := <-stopErr:
			if err == nil && e != nil && !errors.Is(e, net.ErrClosed) {
				err = e
			}
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
		}
	}
	s.log.Info("server stopped", "took", time.Since(start).Round(time.Millisecond), "open_streams", s.nStreams.Load())
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Publish publishes evs as one batch and returns their ids, in order. The
// batch is all or nothing: an invalid event (see Event) rejects it whole with
// a *ValidationError naming the event. With Debounce set, a keyed event
// returns once its window closes (see the debouncer's notes).
func (s *Server) Publish(evs ...Event) ([]string, error) {
	if len(evs) == 0 {
		return nil, errors.New("transport: nothing to publish")
	}
	for i := range evs {
		if why := validate(&evs[i]); why != "" {
			return nil, &ValidationError{Index: i, Reason: why}
		}
	}
	s.pubMu.RLock()
	defer s.pubMu.RUnlock()
	if s.closing.Load() {
		return nil, ErrClosed
	}
	start := time.Now()
	frames := make([]*frame, len(evs))
	for i := range evs {
		frames[i] = encodeFrame(&evs[i])
	}
	var seqs []uint64
	var err error
	if s.deb == nil {
		seqs, err = s.publishNow(frames)
	} else {
		seqs, err = s.publishDebounced(frames)
	}
	if err != nil {
		if errors.Is(err, errEngineClosed) {
			err = ErrClosed
		}
		return nil, err
	}
	ids := make([]string, len(seqs))
	for i, seq := range seqs {
		ids[i] = (&frame{seq: seq, topic: evs[i].Topic}).id(s.cfg.Epoch)
	}
	s.m.publishDur.UpdateDuration(start)
	return ids, nil
}

func (s *Server) publishNow(frames []*frame) ([]uint64, error) {
	first, err := s.eng.publish(frames)
	if err != nil {
		return nil, err
	}
	s.m.published.Add(len(frames))
	seqs := make([]uint64, len(frames))
	for i := range seqs {
		seqs[i] = first + uint64(i)
	}
	return seqs, nil
}

func (s *Server) publishDebounced(frames []*frame) ([]uint64, error) {
	seqs := make([]uint64, len(frames))
	var now []*frame
	var nowAt []int
	waits := map[int]<-chan publishResult{}
	for i, f := range frames {
		if f.key == "" {
			now = append(now, f)
			nowAt = append(nowAt, i)
			continue
		}
		ch, err := s.deb.add(f)
		if err != nil {
			return nil, err
		}
		waits[i] = ch
	}
	if len(now) > 0 {
		got, err := s.publishNow(now)
		if err != nil {
			return nil, err
		}
		for j, i := range nowAt {
			seqs[i] = got[j]
		}
	}
	for i, ch := range waits {
		r := <-ch
		if r.err != nil {
			return nil, r.err
		}
		seqs[i] = r.seq
	}
	return seqs, nil
}

// handlePublish is POST /publish.
func (s *Server) handlePublish(ctx *fasthttp.RequestCtx) {
	s.setCORS(ctx)
	if ctx.IsOptions() {
		ctx.Response.Header.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		ctx.Response.Header.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
		ctx.Response.Header.Set("Access-Control-Max-Age", "600")
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	if !ctx.IsPost() {
		s.m.rejected[rejMethod].Inc()
		ctx.Response.Header.Set("Allow", "POST, OPTIONS")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "publish with POST")
		return
	}
	if s.cfg.PublishToken != "" && !bearerMatches(ctx.Request.Header.Peek("Authorization"), s.cfg.PublishToken) {
		s.m.rejected[rejUnauthorized].Inc()
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="ringcast publish"`)
		writeError(ctx, fasthttp.StatusUnauthorized, "publishing needs the header Authorization: Bearer <publish token>")
		return
	}
	format := 0
	if mt, _, err := mime.ParseMediaType(string(ctx.Request.Header.ContentType())); err == nil {
		switch mt {
		case "application/json":
			format = formatJSON
		case "application/x-ndjson", "application/ndjson":
			format = formatNDJSON
		}
	}
	if format == 0 {
		s.m.rejected[rejContentType].Inc()
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, "Content-Type must be application/json (one event) or application/x-ndjson (one event per line)")
		return
	}
	evs, err := parsePublish(ctx.PostBody(), format, s.cfg.MaxEventBytes)
	if err != nil {
		pe := err.(*parseError)
		if pe.status == fasthttp.StatusRequestEntityTooLarge {
			s.m.rejected[rejTooLarge].Inc()
		} else {
			s.m.rejected[rejBadRequest].Inc()
		}
		writeError(ctx, pe.status, pe.msg)
		return
	}
	ids, err := s.Publish(evs...)
	if err != nil {
		var ve *ValidationError
		switch {
		case errors.As(err, &ve):
			s.m.rejected[rejBadRequest].Inc()
			writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		default:
			s.m.rejected[rejUnavailable].Inc()
			ctx.Response.Header.Set("Retry-After", "1")
			writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
		}
		return
	}
	b := make([]byte, 0, 10+len(ids)*24)
	b = append(b, `{"ids":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, id, len(id)) // the topic in the id may hold '"' or '\\'
	}
	b = append(b, "]}\n"...)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// bearerMatches compares the request's bearer token with want in constant time.
func bearerMatches(header []byte, want string) bool {
	const prefix = "Bearer "
	if len(header) < len(prefix) || !strings.EqualFold(string(header[:len(prefix)]), prefix) {
		return false
	}
	// Hashing first makes the comparison independent of the lengths too.
	got := sha256.Sum256(header[len(prefix):])
	exp := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(got[:], exp[:]) == 1
}

func (s *Server) handleMetrics(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	s.m.write(ctx)
}

func (s *Server) handleHealth(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	if s.closing.Load() {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		fmt.Fprintf(ctx, `{"status":"shutting down"}`+"\n")
		return
	}
	fmt.Fprintf(ctx, `{"status":"ok","engine":%q,"epoch":%q,"streams":%d}`+"\n", s.cfg.Engine, s.cfg.Epoch, s.nStreams.Load())
}

func (s *Server) handleIndex(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != "/" {
		writeError(ctx, fasthttp.StatusNotFound, "no such endpoint")
		return
	}
	ctx.SetContentType("text/plain; charset=utf-8")
	fmt.Fprintf(ctx, `ringcast SSE server (engine %s, epoch %s)

  GET  /events?topic=a&topic=b   stream events (no topic: all); resume with Last-Event-ID
  POST /publish                  {"topic":"a","event":"name","data":...} as application/json,
                                 or one such object per line as application/x-ndjson
  GET  /metrics                  Prometheus metrics
  GET  /healthz                  health

Try:  curl -N http://%[3]s/events &
      curl -H 'Content-Type: application/json' -d '{"topic":"demo","data":"hello"}' http://%[3]s/publish
`, s.cfg.Engine, s.cfg.Epoch, ctx.Host())
}

// handleRequestError answers requests fasthttp could not read, in JSON.
func (s *Server) handleRequestError(ctx *fasthttp.RequestCtx, err error) {
	publish := string(ctx.Path()) == "/publish"
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		if publish {
			s.m.rejected[rejTooLarge].Inc()
		}
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, "the body exceeds "+strconv.Itoa(s.cfg.MaxBodyBytes)+" bytes (--max-body-bytes); split the batch")
		return
	}
	if publish {
		s.m.rejected[rejBadRequest].Inc()
	}
	var timeout interface{ Timeout() bool }
	if errors.As(err, &timeout) && timeout.Timeout() {
		writeError(ctx, fasthttp.StatusRequestTimeout, "the request was not received in time")
		return
	}
	writeError(ctx, fasthttp.StatusBadRequest, "cannot read the request: "+err.Error())
}

// setCORS adds the CORS headers when the request's origin is allowed.
func (s *Server) setCORS(ctx *fasthttp.RequestCtx) {
	if o := s.allowedOrigin(ctx.Request.Header.Peek("Origin")); o != "" {
		ctx.Response.Header.Set("Access-Control-Allow-Origin", o)
		if o != "*" {
			ctx.Response.Header.Set("Vary", "Origin")
		}
	}
}

// allowedOrigin returns the Access-Control-Allow-Origin value for origin,
// or "" when none applies.
func (s *Server) allowedOrigin(origin []byte) string {
	if len(origin) == 0 {
		return ""
	}
	if s.corsAny {
		return "*"
	}
	for _, o := range s.corsOrigins {
		if o == string(origin) {
			return o
		}
	}
	return ""
}

// writeError answers with status and {"error": msg}.
func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b := appendJSONString([]byte(`{"error":`), msg, 4096)
	ctx.SetBody(append(b, "}\n"...))
}

// fastLogger sends fasthttp's log lines to slog, at debug level: they report
// per-connection trouble (timeouts, resets) that the metrics already count.
type fastLogger struct{ l *slog.Logger }

func (f fastLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
}
