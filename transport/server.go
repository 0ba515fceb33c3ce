package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/ringcast/ringcast/transport/internal/sse"
)

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
	custom  map[string]bool // paths set by Handle: they may take a body (body.go)
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
	hangups    *hangupWatcher // tells streams of departures; nil where there is none (hangup_linux.go)
	nWatched   atomic.Int64   // streams the watcher watches
	sweepStop  chan struct{}
	sweepDone  chan struct{}
	shutdownMu sync.Mutex
	shutDown   bool
	listeners  []net.Listener

	// testHookAfterWrite, when set, runs after each write of events to a
	// stream. Tests use it to hold a client still, between two reads of its
	// subscription, while the writer overruns it.
	testHookAfterWrite func()
	// testNoHangupWatch, set before the first stream, leaves departures to
	// the keep-alive peek, as on systems without the hang-up watcher.
	testNoHangupWatch bool

	guard *guard // connection limits, tokens, request limits (guard.go)

	cluster *cluster // cluster mode (cluster.go); nil on a single node
}

// New builds a server from cfg (zero fields take their defaults). A field it
// cannot accept is reported as a *ConfigError naming it.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	jwtv, err := newJWTVerifier(&cfg, nil)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		routes:     map[string]fasthttp.RequestHandler{},
		custom:     map[string]bool{},
		streams:    map[*stream]struct{}{},
		sweepStop:  make(chan struct{}),
		sweepDone:  make(chan struct{}),
		start:      time.Now(),
		retryFrame: sse.AppendRetry(nil, cfg.Retry.Milliseconds()),
	}
	s.corsAny, s.corsOrigins = parseCORSOrigins(cfg.CORSOrigins)
	s.tick = min(max(cfg.KeepAlive/8, time.Millisecond), time.Second)
	s.pacer = newPacer(cfg.BatchWindow, cfg.WriteBudget)
	s.keepAliveDue = int64(cfg.KeepAlive - s.tick)
	s.m = newServerMetrics(
		func() float64 { return float64(s.nStreams.Load()) },
		func() float64 { return float64(s.eng.maxLag()) },
		func() float64 { return float64(s.eng.topicCount()) },
		func() float64 { return s.pacer.current().Seconds() },
	)
	s.m.set.NewGauge(mHangupWatched, func() float64 { return float64(s.nWatched.Load()) })
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
	if cfg.NATSURL != "" { // cluster mode (cluster.go): the log's epoch, the follower
		if err := s.joinCluster(); err != nil {
			s.eng.close()
			return nil, err
		}
	}
	if cfg.Debounce > 0 {
		s.deb = newDebouncer(cfg.Debounce, s.publishFrames, s.m)
	}
	s.routes["/events"] = s.handleEvents
	s.routes["/publish"] = s.handlePublish
	s.routes["/metrics"] = s.handleMetrics
	s.routes["/healthz"] = s.handleHealth
	s.routes["/"] = s.handleIndex
	s.installGuard()
	s.guard.installAuthz(jwtv)
	s.fast = s.newPublicServer()
	s.installWeb()
	return s, nil
}

// Config returns the configuration in effect, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Epoch returns the stream epoch that every event id of this server carries:
// in cluster mode the log's, which changes when the log is recreated.
func (s *Server) Epoch() string {
	if s.cluster != nil {
		return s.cluster.epoch()
	}
	return s.cfg.Epoch
}

// Handle serves path (exactly) with h, replacing any handler there, "/"
// included. Call it before the first Serve. h finds a request's body, at
// most MaxBodyBytes, in ctx.PostBody(); only these routes and POST /publish
// take a body (any other request with one is answered 413).
func (s *Server) Handle(path string, h fasthttp.RequestHandler) {
	s.routes[path] = h
	s.custom[path] = true
}

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
// listener that only operators reach (127.0.0.1:6060 by default), and
// answers only requests that name this machine (admin.go).
func (s *Server) AdminHandler() fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if why := adminRefusal(ctx); why != "" {
			s.guard.reqRejected[rejAdminForbidden].Inc()
			ctx.SetConnectionClose()
			writeError(ctx, fasthttp.StatusForbidden, why)
			return
		}
		p := string(ctx.Path())
		switch {
		case p == "/debug/pprof/cmdline":
			writeCmdline(ctx)
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
		s.admin = s.newAdminServer()
	}
	admin := s.admin
	s.shutdownMu.Unlock()
	if !s.track(ln) {
		return nil
	}
	return admin.Serve(newRetryListener(ln, s.log, s.guard.acceptRetries))
}

// Shutdown stops the server: it stops accepting connections and publishes,
// publishes what the debouncer holds, lets every stream send what is ready
// and end its response cleanly, and returns when all streams are gone. When
// ctx ends first, the connections still open are closed (a client stuck in a
// write) and Shutdown returns an error that is ctx's (errors.Is:
// context.DeadlineExceeded at a deadline). It is safe to call more than once.
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
		// It is the deadline, for errors.Is, as when ctx ends first.
		err = fmt.Errorf("transport: %d streams did not end in time; their connections were closed: %w", n, context.DeadlineExceeded)
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
	if s.cluster != nil { // cluster mode (cluster.go)
		s.cluster.close()
	}
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
