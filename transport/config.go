package transport

import (
	"errors"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ringcast/ringcast/transport/internal/eventid"
)

// Engine names the fan-out engine behind the server.
type Engine string

const (
	// EngineRing fans out from ring.Ring: one global ring plus a ring per
	// topic; the writer never waits for a client.
	EngineRing Engine = "ring"
	// EngineChan is the channel baseline: a buffered channel per client, fed
	// by the publisher under a hub lock, with the seed's four strategies.
	EngineChan Engine = "chan"
)

// SlowClient is what happens to a client that cannot keep up.
type SlowClient string

const (
	// DropOldest (default) lets the client be overrun: it receives an
	// "event: lagged" notice with the exact number of events skipped, then
	// continues from the oldest event still held.
	DropOldest SlowClient = "drop-oldest"
	// Disconnect closes a client that falls too far behind (three quarters of
	// its ring, before it loses anything where possible) so that it resumes
	// with Last-Event-ID, here or on another server.
	Disconnect SlowClient = "disconnect"
	// DropNewest (chan engine only) drops the events that do not fit the
	// client's channel; the client is told how many with "event: lagged".
	DropNewest SlowClient = "drop-newest"
	// Block (chan engine only) makes the publisher wait for the client's
	// channel: lossless, and every other client waits too.
	Block SlowClient = "block"
	// Unbounded (chan engine only) queues without limit: lossless until the
	// memory runs out.
	Unbounded SlowClient = "unbounded"
)

// Config is everything a Server is built from. The zero value of a field
// means its default (see DefaultConfig); New validates the result.
type Config struct {
	Engine     Engine
	SlowClient SlowClient

	// Capacity is the global ring's size in events (rounded up to a power of
	// two): the resume window of clients that follow all or several topics.
	Capacity int
	// TopicCapacity is the size of each topic's own ring: the resume window,
	// in that topic's events, of clients that follow a single topic.
	TopicCapacity int
	// MaxTopicRings bounds how many topics get a ring of their own. Topics
	// beyond it still work: their subscribers read the global ring, filtered.
	// -1: no topic rings at all.
	MaxTopicRings int
	// ChanBuffer is the per-client channel size of the chan engine.
	ChanBuffer int

	KeepAlive    time.Duration // interval of ": keep-alive" comments on an idle stream
	Retry        time.Duration // the "retry:" sent first: the client's reconnection delay
	WriteTimeout time.Duration // a write that takes longer drops the client
	// BatchWindow: a stream writes at most once per window (pacing.go). 0,
	// the default, sizes the window to keep writes within WriteBudget;
	// NoBatchWindow turns pacing off.
	BatchWindow time.Duration
	// WriteBudget is the writes per second the automatic window aims at
	// (default 25,000 per GOMAXPROCS).
	WriteBudget int
	Debounce    time.Duration // keep only the latest event per (topic, key) within this window

	// MaxEventBytes bounds an event on the wire: its SSE frame (id, event and
	// data lines, each line break of the data costing a "data: " line),
	// counted with the id at its longest; and its JSON object on POST
	// /publish. Beyond: a *ValidationError (ErrEventTooLarge), 413 over
	// HTTP. It is the largest event a client must read whole: the default,
	// 64 KiB, is what go-sse, r3labs/sse and bufio.Scanner read by default.
	MaxEventBytes int
	MaxBodyBytes  int // largest accepted publish body in bytes: 413 beyond
	MaxTopics     int // most topics one subscription may name: 400 beyond

	// PublishToken, when set, is required as "Authorization: Bearer <token>"
	// on POST /publish (401 otherwise).
	PublishToken string
	// CORSOrigins lists the origins allowed to read the stream and publish
	// from a browser; "*" allows any. None by default.
	CORSOrigins []string

	// The defences below are explained in docs/security.md (guard.go).

	// SubscribeToken, when set, is required on GET /events: as
	// "Authorization: Bearer <token>", the cookie ringcast_token (what a
	// browser's EventSource can send), or the query parameter token (weaker:
	// URLs end up in logs and histories). 401 otherwise.
	SubscribeToken string
	// MaxConns bounds the open connections of all kinds (streams, publishers,
	// idle keep-alives). A connection beyond it is answered 429 with
	// Retry-After on its first request and closed; no stream starts. 0 means
	// 90% of the process's file-descriptor limit; negative, no limit.
	MaxConns int
	// MaxConnsPerIP bounds the open connections of one client address (an
	// IPv6 client: its /64), answered like MaxConns. 0 or negative: no limit.
	MaxConnsPerIP int
	// MaxHeaderBytes bounds the request head, request line included: 431
	// beyond. It is also the size of a connection's read buffer. At least
	// MinHeaderBytes.
	MaxHeaderBytes int
	// MaxURLBytes bounds the request target (path and query): 414 beyond.
	// At least MinURLBytes (more with a SubscribeToken), so that a browser
	// may resume on its first connection, and at most MaxHeaderBytes.
	MaxURLBytes int
	// ReadTimeout is the time a request has to arrive whole, from its first
	// byte (a new connection: from the accept): a client that trickles its
	// headers (slowloris) is answered 408 and closed.
	ReadTimeout time.Duration

	// Per-client signed tokens (JWT, jwt.go; docs/security.md). With
	// JWTSecret or JWTKeys set, every subscription and publish needs a
	// credential: one of the static tokens above (every topic), or a signed
	// token whose "ringcast" claim names the topics it may read and write.

	// JWTSecret verifies HS256 tokens: at least 32 bytes.
	JWTSecret []byte
	// JWTKeys verify RS256, ES256, EdDSA (and kin) tokens, each key its own
	// algorithm; ParseJWTKeys reads them from a PEM or JWKS file.
	JWTKeys []JWTKey
	// JWTAudience, when set, must be among a token's "aud".
	JWTAudience string
	// JWTIssuer, when set, must be a token's "iss".
	JWTIssuer string
	// JWTLeeway is the clock skew allowed on exp, nbf and iat: 0 means
	// DefaultJWTLeeway, negative none, at most an hour.
	JWTLeeway time.Duration

	// Hardening: tokens kept off the command line, idle keep-alives bounded.

	// PublishTokenFile and SubscribeTokenFile name files that hold the
	// tokens (surrounding whitespace trimmed), in place of PublishToken and
	// SubscribeToken: a command line is visible to every user of the host
	// (/proc/<pid>/cmdline), a file can be readable by the server alone.
	// New reads them into PublishToken and SubscribeToken; setting a token
	// and its file both is an error.
	PublishTokenFile   string
	SubscribeTokenFile string
	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request before it is closed (streams are not idle: they have their
	// own KeepAlive). Default 10s, the default ReadTimeout: an idle
	// connection holds a place under MaxConns as a slow one does.
	IdleTimeout time.Duration

	// Epoch overrides the random stream epoch (tests, or a deployment that
	// wants ids stable across restarts of a persistent engine). [0-9a-z]{1,16}.
	Epoch string

	Logger *slog.Logger

	// Cluster mode (cluster.go, docs/cluster.md): nodes share one event log
	// on NATS JetStream, and a client resumes exactly on any node. Off while
	// NATSURL is "".

	// NATSURL is the NATS server or cluster to join ("nats://h1:4222,nats://h2:4222").
	NATSURL string
	// NATSStream names the JetStream stream of the log (default "ringcast");
	// a node creates it when missing and refuses one it cannot use.
	NATSStream string
	// NATSMaxAge and NATSMaxBytes bound the log's history (defaults 24h and
	// 1 GiB; -1 for no limit); they apply when this node creates the stream.
	NATSMaxAge   time.Duration
	NATSMaxBytes int64
	// NATSReplicas is the stream's replica count when this node creates it
	// (default 1; 3 on a three-server NATS cluster).
	NATSReplicas int
	// NATSPublishTimeout bounds a publish's wait for JetStream's
	// acknowledgement before it answers 503 (default 2s).
	NATSPublishTimeout time.Duration
	// NATSMaxBatch is the most events one publish may carry: one atomic
	// batch of the NATS server (its jetstream max_batch_size, default 1000).
	NATSMaxBatch int
	// NATSPipelinedBatches publishes a batch's events as separate messages,
	// all in flight at once, instead of one atomic batch: several times the
	// throughput on a single-replica file store (docs/cluster.md), but a
	// failed publish may leave part of its batch stored (a retry with its
	// Idempotency-Key stores the rest, once), and a batch's events may
	// interleave with other nodes' events.
	NATSPipelinedBatches bool
}

// DefaultConfig returns the defaults that `ringcast serve` starts with.
func DefaultConfig() Config {
	return Config{
		Engine:        EngineRing,
		SlowClient:    DropOldest,
		Capacity:      1 << 16,
		TopicCapacity: 4096,
		MaxTopicRings: 10_000,
		ChanBuffer:    1024,
		KeepAlive:     15 * time.Second,
		Retry:         3 * time.Second,
		WriteTimeout:  10 * time.Second,
		MaxEventBytes: 64 << 10,
		MaxBodyBytes:  16 << 20,
		MaxTopics:     64,

		MaxHeaderBytes: 8 << 10,
		MaxURLBytes:    4 << 10,
		ReadTimeout:    10 * time.Second,
		IdleTimeout:    10 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultConfig and checks the result.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.Engine == "" {
		c.Engine = d.Engine
	}
	if c.SlowClient == "" {
		c.SlowClient = d.SlowClient
	}
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&c.Capacity, d.Capacity)
	setInt(&c.TopicCapacity, d.TopicCapacity)
	setInt(&c.MaxTopicRings, d.MaxTopicRings)
	setInt(&c.ChanBuffer, d.ChanBuffer)
	setInt(&c.MaxEventBytes, d.MaxEventBytes)
	setInt(&c.MaxBodyBytes, d.MaxBodyBytes)
	setInt(&c.MaxTopics, d.MaxTopics)
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setDur(&c.KeepAlive, d.KeepAlive)
	setDur(&c.Retry, d.Retry)
	setDur(&c.WriteTimeout, d.WriteTimeout)
	if c.Epoch == "" {
		c.Epoch = eventid.NewEpoch()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}

	switch c.Engine {
	case EngineRing:
		if c.SlowClient != DropOldest && c.SlowClient != Disconnect {
			return c, configError("SlowClient", ErrConflict, "%q needs Engine chan; the ring engine supports %s and %s", c.SlowClient, DropOldest, Disconnect)
		}
	case EngineChan:
		switch c.SlowClient {
		case DropOldest, DropNewest, Block, Unbounded, Disconnect:
		default:
			return c, configError("SlowClient", ErrUnknown, "%q is unknown (want drop-oldest, disconnect, drop-newest, block or unbounded)", c.SlowClient)
		}
	default:
		return c, configError("Engine", ErrUnknown, "%q is unknown (want ring or chan)", c.Engine)
	}
	switch {
	case c.Capacity < 2 || c.Capacity > 1<<28:
		return c, configError("Capacity", ErrOutOfRange, "%d out of range [2, %d]", c.Capacity, 1<<28)
	case c.TopicCapacity < 2 || c.TopicCapacity > 1<<24:
		return c, configError("TopicCapacity", ErrOutOfRange, "%d out of range [2, %d]", c.TopicCapacity, 1<<24)
	case c.MaxTopicRings < -1:
		return c, configError("MaxTopicRings", ErrOutOfRange, "%d must be -1 (none) or more", c.MaxTopicRings)
	case c.ChanBuffer < 1:
		return c, configError("ChanBuffer", ErrOutOfRange, "%d must be at least 1", c.ChanBuffer)
	case c.KeepAlive < time.Millisecond:
		return c, configError("KeepAlive", ErrOutOfRange, "%v must be at least 1ms", c.KeepAlive)
	case c.Retry < 0:
		return c, configError("Retry", ErrOutOfRange, "%v must not be negative", c.Retry)
	case c.WriteTimeout < time.Millisecond:
		return c, configError("WriteTimeout", ErrOutOfRange, "%v must be at least 1ms", c.WriteTimeout)
	case c.BatchWindow < NoBatchWindow || c.BatchWindow > time.Second:
		return c, configError("BatchWindow", ErrOutOfRange, "%v out of range [0, 1s]", c.BatchWindow)
	case c.WriteBudget < 0:
		return c, configError("WriteBudget", ErrOutOfRange, "%d must not be negative", c.WriteBudget)
	case c.Debounce < 0 || c.Debounce > time.Minute:
		return c, configError("Debounce", ErrOutOfRange, "%v out of range [0, 1m]", c.Debounce)
	case c.MaxEventBytes < 64:
		return c, configError("MaxEventBytes", ErrOutOfRange, "%d must be at least 64", c.MaxEventBytes)
	case c.MaxBodyBytes < c.MaxEventBytes:
		return c, configError("MaxBodyBytes", ErrConflict, "%d must be at least MaxEventBytes (%d)", c.MaxBodyBytes, c.MaxEventBytes)
	case c.MaxTopics < 1:
		return c, configError("MaxTopics", ErrOutOfRange, "%d must be at least 1", c.MaxTopics)
	case !eventid.ValidEpoch(c.Epoch):
		return c, configError("Epoch", ErrMalformed, "%q must be 1 to %d characters of [0-9a-z]", c.Epoch, eventid.MaxEpochLen)
	}
	c, err := c.withClusterDefaults() // cluster mode (cluster.go)
	if err != nil {
		return c, err
	}
	return c.withGuardDefaults()
}

// The floors of MaxURLBytes and MaxHeaderBytes. A browser's EventSource
// cannot set headers, so one that resumes on its first connection carries
// its id in the URL, and any HTTP error there (414, 431) makes it give up
// for good, where the protocol promises a reset instead.
const (
	// MinURLBytes is that URL at its longest:
	// /events?lastEventId=<id>&topic=<topic> with the longest id and topic,
	// percent-encoded as encodeURIComponent and url.QueryEscape do. The
	// position is [0-9a-z-], which stays as it is; the '/' after it and
	// every byte of a topic may take three. With a subscribe token that
	// travels in the URL, "&token=" and the token come on top.
	MinURLBytes = len("/events?lastEventId=") + eventid.MaxPositionLen + len("%2F") + 3*eventid.MaxTopicLen +
		len("&topic=") + 3*eventid.MaxTopicLen
	// MinHeaderBytes holds reconnectHeadBytes and a browser's own headers:
	// Chromium sends about 500 bytes of them on an EventSource request
	// (Host, User-Agent, sec-ch-ua*, Sec-Fetch-*, Accept*, Cache-Control,
	// Pragma; measured by TestBrowserResumesAtTheSmallestLimits), which
	// leaves some 640 bytes for a longer Host and a cookie. Proxies that add
	// headers, and larger cookies, need more: hence the larger default.
	// With a subscribe token, the token comes on top (minHeaderBytes).
	MinHeaderBytes = 3 << 10

	// reconnectHeadBytes is the head of such a browser's reconnection
	// before its own headers: the request line with that URL (EventSource
	// keeps it) and Last-Event-ID with the longest id.
	reconnectHeadBytes = len("GET ") + MinURLBytes + len(" HTTP/1.1\r\n") + len("Last-Event-ID: ") + eventid.MaxLen + len("\r\n\r\n")
)

// minURLBytes is MinURLBytes for a configuration with this subscribe token.
func minURLBytes(subscribeToken string) (int, string) {
	n, shape := MinURLBytes, "/events?lastEventId=<id>&topic=<topic>"
	if subscribeToken != "" {
		n += len("&token=") + len(url.QueryEscape(subscribeToken))
		shape += "&token=<token>"
	}
	return n, shape
}

// minHeaderBytes is MinHeaderBytes for a configuration with this subscribe
// token, which the browser sends in the URL or as a cookie.
func minHeaderBytes(subscribeToken string) int {
	minURL, _ := minURLBytes(subscribeToken)
	return MinHeaderBytes + minURL - MinURLBytes
}

// withGuardDefaults fills and checks the fields of the defences.
func (c Config) withGuardDefaults() (Config, error) {
	d := DefaultConfig()
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if c.MaxURLBytes == 0 {
		c.MaxURLBytes = min(d.MaxURLBytes, c.MaxHeaderBytes)
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = defaultMaxConns()
	}
	if err := readTokenFile("PublishTokenFile", "PublishToken", c.PublishTokenFile, &c.PublishToken); err != nil {
		return c, err
	}
	if err := readTokenFile("SubscribeTokenFile", "SubscribeToken", c.SubscribeTokenFile, &c.SubscribeToken); err != nil {
		return c, err
	}
	minURL, shape := minURLBytes(c.SubscribeToken)
	minHead := minHeaderBytes(c.SubscribeToken)
	switch {
	case c.MaxHeaderBytes > 1<<20:
		return c, configError("MaxHeaderBytes", ErrOutOfRange, "%d exceeds the maximum, %d", c.MaxHeaderBytes, 1<<20)
	case c.MaxHeaderBytes < minHead:
		return c, configError("MaxHeaderBytes", ErrOutOfRange, "%d is below the minimum, %d: a browser that resumed with the longest id and topic in its URL reconnects with a head of %d bytes before its own headers (some 500 more), and EventSource gives up for good on a 431",
			c.MaxHeaderBytes, minHead, reconnectHeadBytes+minHead-MinHeaderBytes)
	case c.MaxURLBytes > c.MaxHeaderBytes:
		return c, configError("MaxURLBytes", ErrConflict, "%d exceeds MaxHeaderBytes (%d), which bounds the request line too", c.MaxURLBytes, c.MaxHeaderBytes)
	case c.MaxURLBytes < minURL:
		return c, configError("MaxURLBytes", ErrOutOfRange, "%d is below the minimum, %d: a browser that resumes on its first connection sends %s, %d bytes with the longest id and topic percent-encoded, and EventSource gives up for good on a 414",
			c.MaxURLBytes, minURL, shape, minURL)
	case c.ReadTimeout < 10*time.Millisecond:
		return c, configError("ReadTimeout", ErrOutOfRange, "%v must be at least 10ms", c.ReadTimeout)
	case c.IdleTimeout < 10*time.Millisecond:
		return c, configError("IdleTimeout", ErrOutOfRange, "%v must be at least 10ms", c.IdleTimeout)
	}
	if err := checkToken("PublishToken", c.PublishToken); err != nil {
		return c, err
	}
	if err := checkToken("SubscribeToken", c.SubscribeToken); err != nil {
		return c, err
	}
	return c, nil
}

// checkToken accepts what can travel in a header, a cookie and a URL
// unchanged: visible ASCII without the characters a cookie cannot hold.
func checkToken(field, tok string) error {
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return configError(field, ErrMalformed, "must use letters, digits and punctuation other than \" , ; \\ (e.g. openssl rand -hex 32)")
		}
	}
	return nil
}

// readTokenFile reads the token in the file at path, if any, into *token,
// checked as checkToken checks a token given directly (its contents are
// never shown).
func readTokenFile(field, tokenField, path string, token *string) error {
	if path == "" {
		return nil
	}
	if *token != "" {
		return configError(field, ErrConflict, "and %s are both set; give the token one way", tokenField)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return configError(field, ErrUnreadable, "%q: %v", path, errors.Unwrap(err))
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return configError(field, ErrMalformed, "%q is empty", path)
	}
	if err := checkToken(field, tok); err != nil {
		return err
	}
	*token = tok
	return nil
}
