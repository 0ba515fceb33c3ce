package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringcast/ringcast/internal/leakcheck"
	"github.com/ringcast/ringcast/internal/servetest"
	"github.com/ringcast/ringcast/internal/ssespec"
	"github.com/ringcast/ringcast/transport/internal/eventid"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(natsChildEnv); spec != "" { // a nats-server for a test (cluster_crash_test.go)
		os.Exit(runNATSChild(spec))
	}
	goleak.VerifyTestMain(m, leakcheck.FastHTTP()...)
}

// testLogger discards debug chatter unless RINGCAST_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("RINGCAST_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

const testEpoch = "test"

// testServer is a Server listening on 127.0.0.1, shut down when the test ends.
type testServer struct {
	*Server
	addr string
	t    testing.TB
}

// startServer builds a server from cfg, runs each setup on it before it
// serves, and serves it on 127.0.0.1 until the test ends.
func startServer(t testing.TB, cfg Config, setup ...func(*Server)) *testServer {
	t.Helper()
	if cfg.Epoch == "" {
		cfg.Epoch = testEpoch
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.fast.MaxIdleWorkerDuration = 50 * time.Millisecond // idle workers leave quickly (goroutine baselines)
	for _, f := range setup {
		f(s)
	}
	return &testServer{Server: s, addr: servetest.Loopback(t, s), t: t}
}

// shutdownAndWait shuts s down, failing the test if that goes wrong or if
// served, what a Serve or ServeAdmin (what) returned, is an error.
func shutdownAndWait(t testing.TB, s *Server, served <-chan error, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// publish publishes through the Go API and returns the ids.
func (ts *testServer) publish(evs ...Event) []string {
	ts.t.Helper()
	ids, err := ts.Publish(evs...)
	if err != nil {
		ts.t.Fatalf("Publish: %v", err)
	}
	return ids
}

// publishN publishes n events on topic, data "<prefix><i>", one call each.
func (ts *testServer) publishN(topic string, n int, prefix string) []string {
	ts.t.Helper()
	var ids []string
	for i := range n {
		ids = append(ids, ts.publish(Event{Topic: topic, Data: []byte(prefix + strconv.Itoa(i))})...)
	}
	return ids
}

// post sends a publish body over HTTP and returns the status and body.
func (ts *testServer) post(contentType, body string, header ...string) (int, string) {
	ts.t.Helper()
	req, err := http.NewRequest("POST", "http://"+ts.addr+"/publish", strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (ts *testServer) readers() int {
	switch e := ts.eng.(type) {
	case *ringEngine:
		return e.readers()
	case *chanEngine:
		return e.subscribers()
	case *logEngine: // cluster mode
		return e.cur.Load().readers()
	}
	return -1
}

// metric returns the value of a counter or gauge of the server's set.
func (ts *testServer) metric(name string) float64 {
	ts.t.Helper()
	var buf bytes.Buffer
	ts.m.set.WritePrometheus(&buf)
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				ts.t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	ts.t.Fatalf("metric %s not found in:\n%s", name, buf.String())
	return 0
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sseClient is a raw-socket SSE client: it writes the request by hand and
// decodes the chunked body itself, so tests see exactly the server's bytes.
type sseClient struct {
	t       testing.TB
	conn    net.Conn
	br      *bufio.Reader
	Head    string // status line and headers
	chunked bool
	body    []byte // de-chunked body bytes not yet consumed by the parser
	raw     bytes.Buffer
	parser  *ssespec.Parser
	events  []ssespec.Event
	eof     bool
	ended   bool          // saw the terminating chunk
	first   ssespec.Event // the first event returned by next
	seen    int           // events returned by next
}

type dialOpt struct {
	lastID  string
	header  []string
	proto   string
	method  string
	rcvBuf  int
	noReadH bool
}

// dial subscribes with path (e.g. "/events?topic=a") and reads the response head.
func dial(t testing.TB, addr, path string, opt dialOpt) *sseClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if opt.rcvBuf > 0 {
		d.Control = nil
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if opt.rcvBuf > 0 {
		_ = conn.(*net.TCPConn).SetReadBuffer(opt.rcvBuf)
	}
	c := &sseClient{t: t, conn: conn, br: bufio.NewReaderSize(conn, 64<<10), parser: new(ssespec.Parser)}
	t.Cleanup(func() { conn.Close() })
	proto, method := opt.proto, opt.method
	if proto == "" {
		proto = "HTTP/1.1"
	}
	if method == "" {
		method = "GET"
	}
	req := method + " " + path + " " + proto + "\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\n"
	if opt.lastID != "" {
		req += "Last-Event-ID: " + opt.lastID + "\r\n"
	}
	for i := 0; i+1 < len(opt.header); i += 2 {
		req += opt.header[i] + ": " + opt.header[i+1] + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	if !opt.noReadH {
		c.readHead()
	}
	return c
}

func (c *sseClient) readHead() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var head strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading the response head: %v (so far %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	c.Head = head.String()
	c.chunked = strings.Contains(strings.ToLower(c.Head), "transfer-encoding: chunked")
}

// status returns the response's status code.
func (c *sseClient) status() int {
	f := strings.Fields(c.Head)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// readChunk reads one chunk (or, unchunked, whatever arrives) into c.body.
func (c *sseClient) readChunk(deadline time.Time) error {
	_ = c.conn.SetReadDeadline(deadline)
	if !c.chunked {
		buf := make([]byte, 32<<10)
		n, err := c.br.Read(buf)
		c.body = append(c.body, buf[:n]...)
		c.raw.Write(buf[:n])
		return err
	}
	line, err := c.br.ReadString('\n')
	if err != nil {
		return err
	}
	size, err := strconv.ParseUint(strings.TrimSuffix(line, "\r\n"), 16, 64)
	if err != nil || !strings.HasSuffix(line, "\r\n") {
		c.t.Fatalf("bad chunk header %q", line)
	}
	data := make([]byte, size+2)
	if _, err := io.ReadFull(c.br, data); err != nil {
		return err
	}
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		c.t.Fatalf("chunk of %d bytes not followed by CRLF", size)
	}
	if size == 0 {
		c.ended = true
		return io.EOF
	}
	c.body = append(c.body, data[:size]...)
	c.raw.Write(data[:size])
	return nil
}

// next returns the next n dispatched events, failing the test after timeout.
func (c *sseClient) next(n int, timeout time.Duration) []ssespec.Event {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for len(c.events) < n {
		if len(c.body) > 0 {
			c.events = append(c.events, c.parser.Feed(c.body)...)
			c.body = c.body[:0]
			continue
		}
		if c.eof {
			c.t.Fatalf("stream ended after %d of %d events: %+v", len(c.events), n, c.events)
		}
		if err := c.readChunk(deadline); err != nil {
			if errors.Is(err, io.EOF) {
				c.eof = true
				continue
			}
			c.t.Fatalf("read after %d of %d events: %v (events: %+v)", len(c.events), n, err, c.events)
		}
	}
	out := c.events[:n:n]
	c.events = c.events[n:]
	if c.seen == 0 && n > 0 {
		c.first = out[0]
	}
	c.seen += n
	return out
}

// readBytes reads until the de-chunked body holds n bytes and returns them.
func (c *sseClient) readBytes(n int, timeout time.Duration) []byte {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for len(c.body) < n {
		if err := c.readChunk(deadline); err != nil {
			c.t.Fatalf("read %d of %d bytes: %v (got %q)", len(c.body), n, err, c.body)
		}
	}
	out := append([]byte(nil), c.body[:n]...)
	c.body = c.body[n:]
	return out
}

// readEvents reads one chunk before deadline and parses what it brought
// into c.events.
func (c *sseClient) readEvents(deadline time.Time) error {
	err := c.readChunk(deadline)
	if len(c.body) > 0 {
		c.events = append(c.events, c.parser.Feed(c.body)...)
		c.body = c.body[:0]
	}
	return err
}

// readToEnd reads until the stream ends and returns whether it ended with
// the terminating chunk, and the events that arrived meanwhile.
func (c *sseClient) readToEnd(timeout time.Duration) (bool, []ssespec.Event) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !c.eof {
		if err := c.readEvents(deadline); err != nil {
			if !errors.Is(err, io.EOF) && !isConnReset(err) {
				c.t.Fatalf("reading to the end: %v", err)
			}
			c.eof = true
		}
	}
	evs := c.events
	c.events = nil
	return c.ended, evs
}

func isConnReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || errors.Is(err, net.ErrClosed))
}

// expectNothing checks that no further byte arrives within d.
func (c *sseClient) expectNothing(d time.Duration) {
	c.t.Helper()
	if len(c.body) > 0 || len(c.events) > 0 {
		c.t.Fatalf("unexpected data: %q %+v", c.body, c.events)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	if b, err := c.br.Peek(1); err == nil {
		c.t.Fatalf("unexpected data: %q", b)
	}
}

// seqOf returns the sequence in an event id.
func seqOf(t testing.TB, id string) uint64 {
	t.Helper()
	_, seq, _, err := eventid.Parse(id)
	if err != nil {
		t.Fatalf("id %q: %v", id, err)
	}
	return seq
}

// notice decodes the JSON data of a lagged or reset event.
type notice struct {
	Skipped     *uint64 `json:"skipped"`
	Reason      string  `json:"reason"`
	LastEventID string  `json:"lastEventId"`
	Missed      *int64  `json:"missed"`
}

func decodeNotice(t testing.TB, ev ssespec.Event) notice {
	t.Helper()
	var n notice
	dec := json.NewDecoder(strings.NewReader(ev.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		t.Fatalf("notice %q: %v", ev.Data, err)
	}
	return n
}

func eventsPath(topics ...string) string {
	if len(topics) == 0 {
		return "/events"
	}
	q := url.Values{"topic": topics}
	return "/events?" + q.Encode()
}

// gate holds every stream after its next write of events while closed
// (testHookAfterWrite).
type gate struct {
	mu      sync.Mutex
	open    chan struct{}
	waiting sync.WaitGroup
}

func newGate(s *Server) *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	s.testHookAfterWrite = func() {
		g.mu.Lock()
		ch := g.open
		g.mu.Unlock()
		<-ch
	}
	return g
}

func (g *gate) close() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

func fmtEvents(evs []ssespec.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "[%s %s %q] ", e.LastEventID, e.Type, e.Data)
	}
	return b.String()
}
