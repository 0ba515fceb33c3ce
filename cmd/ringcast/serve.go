package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ringcast/ringcast/internal/cli"
	"github.com/ringcast/ringcast/internal/natsembed"
	"github.com/ringcast/ringcast/transport"
)

const serveSummary = `
Run the Server-Sent Events server.

  GET  /events?topic=a&topic=b   stream events (no topic: all topics); resume with
                                 the Last-Event-ID header or ?lastEventId= on first connect
  POST /publish                  one event as application/json {"topic","event","data","key"},
                                 or one per line as application/x-ndjson; answers {"ids":[...]}
  GET  /metrics, GET /healthz    Prometheus metrics, health
  /debug/pprof/                  on --admin-addr only

Open / in a browser for a live view of the stream with a publish form.
The wire protocol is in docs/protocol.md, the design and figures in docs/transport.md,
the threat model and what each limit defends in docs/security.md.
Flags are visible to every user of this host (ps, /proc/<pid>/cmdline): give tokens
with --publish-token-file and --subscribe-token-file, or the environment variables.
SIGINT or SIGTERM stops accepting, ends every stream cleanly and exits within --shutdown-timeout.`

// runServe is `ringcast serve`: flag parsing and wiring; the server is transport.Server.
func runServe(args []string, stdout, stderr io.Writer) error {
	d := transport.DefaultConfig()
	fs := cli.NewFlagSet("serve", serveSummary, stderr)
	addr := fs.String("addr", ":8080", "listen address of the public server (events, publish, metrics, health)")
	adminAddr := fs.String("admin-addr", "127.0.0.1:6060", "listen address of the admin server (pprof, metrics); empty disables it.\nKeep it on loopback: pprof reveals the process. It answers only requests whose\nHost is localhost, a loopback address or its own IP address (DNS rebinding)")
	engine := fs.String("engine", string(d.Engine), "fan-out engine: ring (the ring buffer) or chan (the channel-per-client baseline)")
	capacity := fs.Int("capacity", d.Capacity, "events the global ring holds (a power of two): the resume window\nof clients that follow all topics or several")
	topicCapacity := fs.Int("topic-capacity", d.TopicCapacity, "events each topic's own ring holds: the resume window of single-topic clients")
	maxTopicRings := fs.Int("max-topic-rings", d.MaxTopicRings, "topics that get a ring of their own; further topics are served, filtered,\nfrom the global ring")
	chanBuffer := fs.Int("chan-buffer", d.ChanBuffer, "per-client channel size of --engine chan")
	slow := fs.String("slow-client", string(d.SlowClient), "what happens to a client that cannot keep up: drop-oldest (it is told\n\"lagged\" with the exact count and continues) or disconnect (it resumes\nelsewhere; with --nats its resume replays what it missed from the stream,\nwhile the stream holds it); --engine chan also has drop-newest, block and unbounded")
	keepAlive := fs.Duration("keepalive", d.KeepAlive, "interval of the \": keep-alive\" comment on an idle stream (it keeps proxies from\ncutting it); on Linux a departed client is let go at once, elsewhere within one interval")
	retry := fs.Duration("retry", d.Retry, "reconnection delay sent to clients in the first frame (retry:)")
	writeTimeout := fs.Duration("write-timeout", d.WriteTimeout, "a client whose socket does not take a write within this is dropped")
	batchWindow := fs.String("batch-window", "auto", "a stream writes at most once per window: an event that finds its stream idle\nfor a window goes out at once, later ones wait and share one write, so the\nwrites (system calls, most of the server's CPU) stay bounded under load. auto:\nthe window grows and shrinks to keep writes within --write-budget (it stays 0\nat low rates); off: every stream writes whenever something is ready; or a\nfixed duration such as 20ms")
	writeBudget := fs.Int("write-budget", 0, "writes per second the automatic --batch-window aims at (0: 25000 per core)")
	debounce := fs.Duration("debounce", 0, "keep only the latest event per topic and key within this window (0: off)")
	maxEventBytes := fs.Int("max-event-bytes", d.MaxEventBytes, "largest event, in bytes, as sent to clients (its SSE frame: a line break in the\ndata costs a \"data: \" line) and as published (its JSON object): 413 beyond.\nThe default fits the 64 KiB event buffers of common clients (go-sse, r3labs/sse,\nbufio.Scanner): raise it only for clients that read larger events")
	maxBodyBytes := fs.Int("max-body-bytes", d.MaxBodyBytes, "largest /publish body, in bytes: 413 beyond")
	maxTopics := fs.Int("max-topics", d.MaxTopics, "most topics one subscription may name")
	publishToken := fs.String("publish-token", "", "when set, POST /publish needs \"Authorization: Bearer <token>\"; when not set,\nonly clients on this machine (loopback) may publish")
	subscribeToken := fs.String("subscribe-token", "", "when set, GET /events needs it: \"Authorization: Bearer <token>\", the cookie\nringcast_token (what a browser's EventSource sends), or ?token= (weaker: URLs are logged)")
	maxConns := fs.Int("max-conns", 0, "most open connections of all kinds; beyond, 429 with Retry-After before any\nstream starts (0: 90% of the file-descriptor limit; -1: no limit)")
	maxConnsPerIP := fs.Int("max-conns-per-ip", 0, "most open connections per client address (IPv6: per /64), answered like\n--max-conns (0: no limit). Behind a proxy every client has the proxy's address")
	maxHeaderBytes := fs.Int("max-header-bytes", d.MaxHeaderBytes, fmt.Sprintf("largest request head (request line and headers), in bytes: 431 beyond.\nAt least %d (more with --subscribe-token), at most %d: a browser that resumes on the\nlongest topic sends a long URL, Last-Event-ID and its own headers (docs/protocol.md)", transport.MinHeaderBytes, 1<<20))
	maxURLBytes := fs.Int("max-url-bytes", d.MaxURLBytes, fmt.Sprintf("largest request target (path and query), in bytes: 414 beyond. At least %d\n(more with --subscribe-token): a browser that resumes on its first connection\nsends /events?lastEventId=<id>&topic=<topic>, that long at the most", transport.MinURLBytes))
	readTimeout := fs.Duration("read-timeout", d.ReadTimeout, "a request must arrive whole within this (slowloris defence): 408 and close")
	// Per-client signed tokens (JWT, docs/security.md): serve_jwt.go.
	var jf jwtFlags
	fs.StringVar(&jf.secret, "jwt-secret", "", "HS256 secret (at least 32 bytes) that verifies signed tokens (JWT). A token's\n\"ringcast\" claim names the topics its holder may read and write:\n{\"subscribe\": [\"user.42\", \"team.7.*\"], \"publish\": [...]} (docs/security.md).\nWith any --jwt-secret/--jwt-keys set, subscribing and publishing need a token\n(or a static --subscribe-token/--publish-token, which allows every topic).\nPrefer --jwt-secret-file or the environment: flags show in ps")
	fs.StringVar(&jf.secretFile, "jwt-secret-file", "", "file holding the HS256 secret (a trailing newline is dropped)")
	fs.StringVar(&jf.keysFile, "jwt-keys", "", "file of public keys that verify RS256, ES256 and EdDSA tokens: PEM blocks\n(openssl pkey -pubout) or a JWKS document. Read at start, never fetched")
	fs.StringVar(&jf.audience, "jwt-audience", "", "when set, a token's aud must include it")
	fs.StringVar(&jf.issuer, "jwt-issuer", "", "when set, a token's iss must equal it")
	fs.DurationVar(&jf.leeway, "jwt-leeway", transport.DefaultJWTLeeway, "clock skew allowed on a token's exp, nbf and iat (0: none). A stream ends\nwhen its token expires (exp plus this), with \"event: expired\" first")
	// Hardening: tokens kept off the command line, idle keep-alives bounded.
	publishTokenFile := fs.String("publish-token-file", "", "read --publish-token from this file (whitespace around it trimmed): unlike a\nflag, a file can be kept from other users of the host")
	subscribeTokenFile := fs.String("subscribe-token-file", "", "read --subscribe-token from this file (whitespace around it trimmed)")
	idleTimeout := fs.Duration("idle-timeout", d.IdleTimeout, "a keep-alive connection waiting for its next request is closed after this\n(streams are never idle: see --keepalive)")
	cors := fs.String("cors-origin", "", "comma-separated origins allowed by CORS (\"*\" for any); none by default")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long streams get to end before their connections are closed")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	// Cluster mode (docs/cluster.md): nodes share one event log on NATS JetStream.
	natsURL := fs.String("nats", "", "join a NATS server or cluster (nats://h1:4222,nats://h2:4222) and run as one node\nof a cluster: every node serves every event under the same id, and a client\nresumes exactly on any node (docs/cluster.md). Not with --engine chan or --debounce")
	natsEmbedded := fs.Bool("nats-embedded", false, "start an in-process NATS server with JetStream and join it (the one-binary\ndemo); other nodes join it with --nats nats://<--nats-listen>")
	natsStore := fs.String("nats-store", filepath.Join(os.TempDir(), "ringcast-nats"), "directory of --nats-embedded's JetStream store; a restart on it keeps the history")
	natsListen := fs.String("nats-listen", "127.0.0.1:4222", "client address of --nats-embedded's NATS server")
	natsStream := fs.String("nats-stream", "ringcast", "JetStream stream of the event log, created when missing (subjects ringcast.>)")
	natsMaxAge := fs.Duration("nats-max-age", 24*time.Hour, "how long the log keeps an event, when this node creates the stream (-1ns: no limit)")
	natsMaxBytes := fs.Int64("nats-max-bytes", 1<<30, "how many bytes the log keeps, when this node creates the stream (-1: no limit)")
	natsReplicas := fs.Int("nats-replicas", 1, "copies of the log, when this node creates the stream (3 on a 3-server NATS cluster)")
	natsPublishTimeout := fs.Duration("nats-publish-timeout", 2*time.Second, "a publish not acknowledged by JetStream within this is answered 503;\nretrying it with the same Idempotency-Key header is safe")
	natsMaxBatch := fs.Int("nats-max-batch", 1000, "most events in one publish: one atomic batch (the NATS server's\njetstream max_batch_size); 413 beyond")
	natsPipelined := fs.Bool("nats-pipelined-batches", false, "publish a batch's events as separate messages, all in flight at once, not as one\natomic batch: several times the throughput on a single-replica store, but a failed\npublish may leave part of its batch stored (a retry with its Idempotency-Key\nstores the rest, once)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var origins []string
	if *cors != "" {
		origins = strings.Split(*cors, ",")
	}
	window, err := parseBatchWindow(*batchWindow)
	if err != nil {
		return err
	}
	// Cluster mode: an embedded NATS server for the one-binary demo.
	if *natsEmbedded {
		if *natsURL != "" {
			return errors.New("--nats-embedded starts its own NATS server: leave out --nats (other nodes take --nats)")
		}
		ns, err := natsembed.Start(natsembed.Options{StoreDir: *natsStore, Listen: *natsListen})
		if err != nil {
			return fmt.Errorf("--nats-embedded: %w", err)
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		*natsURL = ns.ClientURL()
		log.Info("embedded NATS server", "url", *natsURL, "store", *natsStore)
	}
	jwtCfg, err := jf.config()
	if err != nil {
		return err
	}
	srv, err := transport.New(transport.Config{
		Engine:        transport.Engine(*engine),
		SlowClient:    transport.SlowClient(*slow),
		Capacity:      *capacity,
		TopicCapacity: *topicCapacity,
		MaxTopicRings: *maxTopicRings,
		ChanBuffer:    *chanBuffer,
		KeepAlive:     *keepAlive,
		Retry:         *retry,
		WriteTimeout:  *writeTimeout,
		BatchWindow:   window,
		WriteBudget:   *writeBudget,
		Debounce:      *debounce,
		MaxEventBytes: *maxEventBytes,
		MaxBodyBytes:  *maxBodyBytes,
		MaxTopics:     *maxTopics,
		PublishToken:  *publishToken,
		CORSOrigins:   origins,

		SubscribeToken: *subscribeToken,
		MaxConns:       *maxConns,
		MaxConnsPerIP:  *maxConnsPerIP,
		MaxHeaderBytes: *maxHeaderBytes,
		MaxURLBytes:    *maxURLBytes,
		ReadTimeout:    *readTimeout,

		JWTSecret:   jwtCfg.JWTSecret,
		JWTKeys:     jwtCfg.JWTKeys,
		JWTAudience: jwtCfg.JWTAudience,
		JWTIssuer:   jwtCfg.JWTIssuer,
		JWTLeeway:   jwtCfg.JWTLeeway,

		PublishTokenFile:   *publishTokenFile,
		SubscribeTokenFile: *subscribeTokenFile,
		IdleTimeout:        *idleTimeout,

		Logger: log,

		NATSURL:            *natsURL,
		NATSStream:         *natsStream,
		NATSMaxAge:         *natsMaxAge,
		NATSMaxBytes:       *natsMaxBytes,
		NATSReplicas:       *natsReplicas,
		NATSPublishTimeout: *natsPublishTimeout,
		NATSMaxBatch:       *natsMaxBatch,

		NATSPipelinedBatches: *natsPipelined,
	})
	if err != nil {
		return flagError(err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	var adminLn net.Listener
	if *adminAddr != "" {
		if adminLn, err = net.Listen("tcp", *adminAddr); err != nil {
			ln.Close()
			return fmt.Errorf("--admin-addr: %w (set --admin-addr \"\" to run without it)", err)
		}
	}
	cfg := srv.Config()
	log.Info("ringcast serve",
		"addr", ln.Addr().String(), "admin", addrOf(adminLn), "engine", cfg.Engine, "slow_client", cfg.SlowClient,
		"capacity", cfg.Capacity, "topic_capacity", cfg.TopicCapacity, "epoch", cfg.Epoch,
		"publish_auth", cfg.PublishToken != "", "signed_tokens", signedTokens(cfg), "nats", cfg.NATSURL != "")

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if adminLn != nil {
		go func() { errc <- srv.ServeAdmin(adminLn) }()
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var serveErr error
	select {
	case sig := <-sigs:
		log.Info("stopping", "signal", sig.String(), "timeout", *shutdownTimeout)
	case serveErr = <-errc:
		log.Error("listener failed, stopping", "err", serveErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	} else if err != nil {
		log.Warn("shutdown deadline reached; remaining connections were closed", "err", err)
	}
	return serveErr
}

// configFlags names the flag of each transport.Config field that serve sets.
var configFlags = map[string]string{
	"Engine": "engine", "SlowClient": "slow-client", "Capacity": "capacity", "TopicCapacity": "topic-capacity",
	"MaxTopicRings": "max-topic-rings", "ChanBuffer": "chan-buffer", "KeepAlive": "keepalive", "Retry": "retry",
	"WriteTimeout": "write-timeout", "BatchWindow": "batch-window", "WriteBudget": "write-budget",
	"Debounce": "debounce", "MaxEventBytes": "max-event-bytes", "MaxBodyBytes": "max-body-bytes",
	"MaxTopics": "max-topics", "PublishToken": "publish-token", "CORSOrigins": "cors-origin",
	"SubscribeToken": "subscribe-token", "MaxConns": "max-conns", "MaxConnsPerIP": "max-conns-per-ip",
	"MaxHeaderBytes": "max-header-bytes", "MaxURLBytes": "max-url-bytes", "ReadTimeout": "read-timeout",
	"JWTSecret": "jwt-secret", "JWTKeys": "jwt-keys", "JWTAudience": "jwt-audience", "JWTIssuer": "jwt-issuer",
	"JWTLeeway":        "jwt-leeway",
	"PublishTokenFile": "publish-token-file", "SubscribeTokenFile": "subscribe-token-file", "IdleTimeout": "idle-timeout",
	// cluster mode
	"NATSURL": "nats", "NATSStream": "nats-stream", "NATSMaxAge": "nats-max-age", "NATSMaxBytes": "nats-max-bytes",
	"NATSReplicas": "nats-replicas", "NATSPublishTimeout": "nats-publish-timeout", "NATSMaxBatch": "nats-max-batch",
	"NATSPipelinedBatches": "nats-pipelined-batches",
}

var configFieldName = regexp.MustCompile(`\b[A-Z][A-Za-z]+\b`)

// flagError restates a *transport.ConfigError in the flags' terms: the
// library names Config fields, a user of serve knows the flags.
func flagError(err error) error {
	var ce *transport.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	toFlag := func(field string) string {
		if f, ok := configFlags[field]; ok {
			return "--" + f
		}
		return field
	}
	return &cliError{msg: toFlag(ce.Field) + " " + configFieldName.ReplaceAllStringFunc(ce.Reason, toFlag), err: err}
}

// cliError is an error reworded for the command line; errors.Is and
// errors.As still see the original.
type cliError struct {
	msg string
	err error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

func addrOf(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return ln.Addr().String()
}

// parseBatchWindow reads --batch-window: auto, off, or a duration.
func parseBatchWindow(v string) (time.Duration, error) {
	switch v {
	case "auto", "":
		return 0, nil
	case "off", "0":
		return transport.NoBatchWindow, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--batch-window %q: want auto, off or a duration such as 20ms", v)
	}
	if d == 0 {
		return transport.NoBatchWindow, nil
	}
	return d, nil
}
