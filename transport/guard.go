package transport

// The guard: what stands between the open internet and the server. The
// threat model and what each setting defends are in docs/security.md.
//
// A request meets the defences in this order:
//   1. Accept: the connection limits (MaxConns, MaxConnsPerIP). A connection
//      over a limit is not refused at once (a client would see a reset, not a
//      reason): it is marked, and its first request is answered below.
//   2. fasthttp, configured from Config (httpserver.go): the request head must fit
//      MaxHeaderBytes (431) and the request must arrive within ReadTimeout
//      (408, then close: slowloris), its body within MaxBodyBytes (413).
//   3. The guard middleware, outermost of all: a marked connection gets 429
//      with Retry-After and Connection: close, whatever it asked, so no stream
//      starts; an overlong request target gets 414; GET /events needs the
//      subscribe token when one is set (401); POST /publish without a
//      publish token is open only to a loopback peer that names a loopback
//      host and, from a browser, a loopback origin (403).
//   4. The handlers: publish parsing (400, 413, 415, the publish token: 401),
//      subscription checks (400), Last-Event-ID (never an error: a reset).
//
// Invariants:
//   G1. Every accepted connection is counted exactly once, from Accept until
//       its first Close, whoever closes it: fasthttp, or a stream (a hijacked
//       connection's UnsafeConn is our wrapper, so the stream closes it too).
//       Admitted connections count in conns and perIP, marked ones in
//       rejecting; a connection never moves from one to the other.
//   G2. A marked connection is never served: its first request is answered
//       429 and the connection closed.
//   G3. Token checks take a time independent of the tokens' contents (both
//       sides are hashed, then compared in constant time).

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// Reasons of ringcast_connections_rejected_total and
// ringcast_requests_rejected_total.
const (
	rejMaxConns        = "max-conns"         // 429: the server is full
	rejMaxConnsPerIP   = "max-conns-per-ip"  // 429: this address is full
	rejHeaderTooLarge  = "header-too-large"  // 431
	rejURLTooLong      = "url-too-long"      // 414
	rejReadTimeout     = "read-timeout"      // 408: slowloris, or a stalled body
	rejMalformed       = "malformed-request" // 400: fasthttp could not parse it
	rejSubscribeNoAuth = "subscribe-unauthorized"
	rejForbidden       = "forbidden" // publish: no token, and not from loopback
)

const (
	mOpenConns        = "ringcast_open_connections"
	mConnsRejected    = "ringcast_connections_rejected_total"
	mRequestsRejected = "ringcast_requests_rejected_total"

	// subscribeCookie is the cookie that carries the subscribe token: the
	// only credential a browser's EventSource sends by itself.
	subscribeCookie = "ringcast_token"

	// limitRetryAfter is the Retry-After of a 429, in seconds.
	limitRetryAfter = "5"

	// maxRejecting bounds the marked connections open at once. Beyond it a
	// connection over a limit is closed at Accept without an answer: a flood
	// must not exhaust the file descriptors while waiting for its 429s.
	maxRejecting = 1024
)

// guard holds the connection counts and the defences' metrics.
type guard struct {
	s        *Server
	maxConns int // <= 0: no limit
	maxPerIP int // <= 0: no limit

	mu        sync.Mutex
	conns     int
	perIP     map[netip.Addr]int
	rejecting atomic.Int64

	connRejected map[string]*metrics.Counter
	reqRejected  map[string]*metrics.Counter
	logOnce      sync.Once

	// Signed tokens (authz.go): the verifier (nil: off), rejections by op/reason.
	jwt         *jwtVerifier
	tokRejected map[string]*metrics.Counter
}

// installGuard creates the guard and puts its middleware outermost. New calls
// it before any route or middleware of the caller; fasthttp's limits are set
// with the rest of its configuration (httpserver.go).
func (s *Server) installGuard() {
	g := &guard{
		s:            s,
		maxConns:     s.cfg.MaxConns,
		maxPerIP:     s.cfg.MaxConnsPerIP,
		perIP:        map[netip.Addr]int{},
		connRejected: map[string]*metrics.Counter{},
		reqRejected:  map[string]*metrics.Counter{},
	}
	s.guard = g
	set := s.m.set
	for _, r := range []string{rejMaxConns, rejMaxConnsPerIP} {
		g.connRejected[r] = set.NewCounter(mConnsRejected + `{reason="` + r + `"}`)
	}
	for _, r := range []string{rejHeaderTooLarge, rejURLTooLong, rejReadTimeout, rejMalformed, rejSubscribeNoAuth} {
		g.reqRejected[r] = set.NewCounter(mRequestsRejected + `{reason="` + r + `"}`)
	}
	s.m.rejected[rejForbidden] = set.NewCounter(mRejected + `{reason="` + rejForbidden + `"}`)
	set.NewGauge(mOpenConns, func() float64 {
		g.mu.Lock()
		defer g.mu.Unlock()
		return float64(g.conns)
	})

	s.Use(g.middleware)
}

// listener wraps ln so that connections are counted and limited, and logs
// the defences in effect once.
func (g *guard) listener(ln net.Listener) net.Listener {
	g.logOnce.Do(func() {
		cfg := &g.s.cfg
		if !g.authRequired(opPublish) {
			g.s.log.Warn("no publish token: only loopback clients may publish; set --publish-token to publish from elsewhere")
		}
		g.s.log.Info("defences",
			"publish_auth", g.authRequired(opPublish), "subscribe_auth", g.authRequired(opSubscribe), "signed_tokens", g.jwt != nil,
			"max_conns", limitString(cfg.MaxConns), "max_conns_per_ip", limitString(cfg.MaxConnsPerIP),
			"max_header_bytes", cfg.MaxHeaderBytes, "max_url_bytes", cfg.MaxURLBytes,
			"read_timeout", cfg.ReadTimeout, "cors_origins", strings.Join(cfg.CORSOrigins, ","))
	})
	return &guardListener{Listener: ln, g: g}
}

func limitString(n int) string {
	if n <= 0 {
		return "none"
	}
	return strconv.Itoa(n)
}

type guardListener struct {
	net.Listener
	g *guard
}

func (l *guardListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if gc := l.g.admit(c); gc != nil {
			return gc, nil
		}
	}
}

// admit counts c (G1) and wraps it; it returns nil when c was closed at
// once because too many marked connections are open already.
func (g *guard) admit(c net.Conn) net.Conn {
	key := clientKey(c.RemoteAddr())
	reject := ""
	g.mu.Lock()
	switch {
	case g.maxConns > 0 && g.conns >= g.maxConns:
		reject = rejMaxConns
	case g.maxPerIP > 0 && g.perIP[key] >= g.maxPerIP:
		reject = rejMaxConnsPerIP
	default:
		g.conns++
		if g.maxPerIP > 0 {
			g.perIP[key]++
		}
	}
	g.mu.Unlock()
	if reject != "" {
		g.connRejected[reject].Inc()
		if g.rejecting.Add(1) > maxRejecting {
			g.rejecting.Add(-1)
			_ = c.Close()
			return nil
		}
	}
	gc := &guardConn{Conn: c, g: g, key: key, reject: reject}
	if sc, ok := c.(syscall.Conn); ok {
		// The stream's departure check (peer_unix.go) needs the socket.
		return guardSysConn{gc, sc}
	}
	return gc
}

func (g *guard) release(c *guardConn) {
	if c.reject != "" {
		g.rejecting.Add(-1)
		return
	}
	g.mu.Lock()
	g.conns--
	if g.maxPerIP > 0 {
		if n := g.perIP[c.key] - 1; n > 0 {
			g.perIP[c.key] = n
		} else {
			delete(g.perIP, c.key)
		}
	}
	g.mu.Unlock()
}

// openConns returns the admitted connections open now.
func (g *guard) openConns() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns
}

// clientKey is what MaxConnsPerIP counts by: the IPv4 address, or the /64
// of an IPv6 one (a single host is routinely given a whole /64).
func clientKey(a net.Addr) netip.Addr {
	var ip netip.Addr
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP) // no formatting and parsing back
	} else if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// guardConn is an accepted connection, counted until its first Close.
type guardConn struct {
	net.Conn
	g      *guard
	key    netip.Addr
	reject string // the limit it is over, "" when admitted (G1)
	closed atomic.Bool
}

func (c *guardConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.g.release(c)
	}
	return c.Conn.Close()
}

func (c *guardConn) guarded() *guardConn { return c }

// guardSysConn is a guardConn over a socket: it keeps SyscallConn visible.
type guardSysConn struct {
	*guardConn
	sc syscall.Conn
}

func (c guardSysConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }

func guardedConn(c net.Conn) *guardConn {
	if g, ok := c.(interface{ guarded() *guardConn }); ok {
		return g.guarded()
	}
	return nil
}

// middleware is step 3 of the file comment.
func (g *guard) middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	cfg := &g.s.cfg
	return func(ctx *fasthttp.RequestCtx) {
		if gc := guardedConn(ctx.Conn()); gc != nil && gc.reject != "" {
			ctx.SetConnectionClose()
			ctx.Response.Header.Set("Retry-After", limitRetryAfter)
			msg := "the server holds its maximum of connections (--max-conns); retry later"
			if gc.reject == rejMaxConnsPerIP {
				msg = "your address holds its maximum of connections (--max-conns-per-ip); close some, or retry later"
			}
			writeError(ctx, fasthttp.StatusTooManyRequests, msg)
			return
		}
		if n := len(ctx.Request.Header.RequestURI()); n > cfg.MaxURLBytes {
			g.reqRejected[rejURLTooLong].Inc()
			ctx.SetConnectionClose()
			writeError(ctx, fasthttp.StatusRequestURITooLong, fmt.Sprintf(
				"the request target is %d bytes; the limit is %d (--max-url-bytes): subscribe to fewer topics", n, cfg.MaxURLBytes))
			return
		}
		switch string(ctx.Path()) {
		case "/events":
			if g.authRequired(opSubscribe) {
				gr, te := g.subscriber(ctx)
				if te != nil {
					g.reqRejected[rejSubscribeNoAuth].Inc()
					g.refuseToken(ctx, opSubscribe, te)
					return
				}
				if gr != nil {
					ctx.SetUserValue(grantKey{}, gr)
				}
			}
		case "/publish":
			if !g.authRequired(opPublish) && !ctx.IsOptions() {
				if why := openPublishRefusal(ctx); why != "" {
					g.s.m.rejected[rejForbidden].Inc()
					writeError(ctx, fasthttp.StatusForbidden, why)
					return
				}
			}
		}
		next(ctx)
	}
}

// tokenMatches compares got with want in constant time (G3). Hashing first
// makes the comparison independent of the lengths too.
func tokenMatches(got []byte, want string) bool {
	a := sha256.Sum256(got)
	b := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// bearerMatches compares the request's bearer token with want in constant
// time (G3).
func bearerMatches(header []byte, want string) bool {
	const prefix = "Bearer "
	if len(header) < len(prefix) || !strings.EqualFold(string(header[:len(prefix)]), prefix) {
		return false
	}
	return tokenMatches(header[len(prefix):], want)
}

// openPublishRefusal says why a publish without a configured token is
// refused, or "" when it may proceed: the peer must be loopback, and so must
// the host it named (else a DNS name rebound to 127.0.0.1 would let any web
// page publish through a local browser), and the origin of a browser's
// request (else, with --cors-origin "*", any page could).
func openPublishRefusal(ctx *fasthttp.RequestCtx) string {
	const fix = "; set --publish-token and send Authorization: Bearer <token>"
	if ip, ok := netip.AddrFromSlice(ctx.RemoteIP()); !ok || !ip.Unmap().IsLoopback() {
		return "publishing without a token is open only to clients on this machine (loopback)" + fix
	}
	if !loopbackHost(string(ctx.Host())) {
		return "publishing without a token needs a Host that names this machine (localhost or a loopback address)" + fix
	}
	if o := ctx.Request.Header.Peek("Origin"); len(o) > 0 {
		u, err := url.Parse(string(o))
		if err != nil || !loopbackHost(u.Host) {
			return "publishing without a token is open only to pages served from this machine (a loopback Origin)" + fix
		}
	}
	return ""
}

// loopbackHost reports whether hostport (a Host header, or an origin's host)
// names this machine: localhost, *.localhost, or a loopback address.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// publishMode says how the client of ctx may publish, for the web page:
// "token" (a token is configured), "open" (no token, and this client may),
// or "forbidden" with the reason.
func publishMode(ctx *fasthttp.RequestCtx, cfg *Config) (mode, why string) {
	if cfg.PublishToken != "" || cfg.jwtEnabled() {
		return "token", ""
	}
	if why := openPublishRefusal(ctx); why != "" {
		return "forbidden", why
	}
	return "open", ""
}
