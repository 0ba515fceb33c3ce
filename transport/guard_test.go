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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ringcast/ringcast/transport/internal/eventid"
)

// rawResponse is an HTTP answer read off a raw socket.
type rawResponse struct {
	status int
	header http.Header
	body   string
	closed bool // the server closed the connection after answering
}

// rawRoundTrip writes req (bytes as given) from a connection dialled from
// local (an address of 127.0.0.0/8, "" for any) and reads one response.
func rawRoundTrip(t testing.TB, addr, local, req string) rawResponse {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response to %.80q: %v", req, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	r := rawResponse{status: resp.StatusCode, header: resp.Header, body: string(body)}
	if resp.Close {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := br.ReadByte()
		r.closed = err == io.EOF
	}
	return r
}

// errorOf decodes a JSON error body, failing the test when it is not one.
func errorOf(t testing.TB, r rawResponse) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
		t.Fatalf("status %d: the body is not a JSON error: %q", r.status, r.body)
	}
	return e.Error
}

func getReq(addr, target string, headers ...string) string {
	var b strings.Builder
	b.WriteString("GET " + target + " HTTP/1.1\r\nHost: " + addr + "\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func postReq(addr, target, ctype, body string, headers ...string) string {
	var b strings.Builder
	b.WriteString("POST " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: " + ctype + "\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	return b.String()
}

func TestMaxConns(t *testing.T) {
	ts := startServer(t, Config{MaxConns: 3, KeepAlive: 50 * time.Millisecond})
	var streams []*sseClient
	for range 3 {
		c := dial(t, ts.addr, "/events", dialOpt{})
		if c.status() != 200 {
			t.Fatalf("stream under the limit: %s", c.Head)
		}
		streams = append(streams, c)
	}
	// Over the limit: 429 with Retry-After before any stream starts, and
	// publishers are connections too.
	for _, req := range []string{
		getReq(ts.addr, "/events"),
		postReq(ts.addr, "/publish", "application/json", `{"topic":"a"}`),
	} {
		r := rawRoundTrip(t, ts.addr, "", req)
		if r.status != 429 || r.header.Get("Retry-After") != limitRetryAfter || !r.closed ||
			!strings.Contains(errorOf(t, r), "--max-conns") || strings.Contains(r.header.Get("Content-Type"), "event-stream") {
			t.Fatalf("over the limit: %d %v closed=%v %s", r.status, r.header, r.closed, r.body)
		}
	}
	if got := ts.metric(mConnsRejected + `{reason="max-conns"}`); got != 2 {
		t.Errorf("rejected connections = %v; want 2", got)
	}
	// The admitted streams were not disturbed.
	id := ts.publish(Event{Topic: "a", Data: []byte("x")})[0]
	for _, c := range streams {
		if evs := c.next(1, 5*time.Second); evs[0].LastEventID != id {
			t.Fatalf("stream got %s; want %s", fmtEvents(evs), id)
		}
	}
	// A departed client frees its place.
	streams[0].conn.Close()
	waitFor(t, "the server to let the departed client go", 5*time.Second, func() bool { return ts.guard.openConns() == 2 })
	if c := dial(t, ts.addr, "/events", dialOpt{}); c.status() != 200 {
		t.Fatalf("after a departure: %s", c.Head)
	}
}

func TestMaxConnsPerIP(t *testing.T) {
	ts := startServer(t, Config{MaxConnsPerIP: 2})
	for range 2 {
		if c := dial(t, ts.addr, "/events", dialOpt{}); c.status() != 200 {
			t.Fatalf("under the limit: %s", c.Head)
		}
	}
	r := rawRoundTrip(t, ts.addr, "127.0.0.1", getReq(ts.addr, "/events"))
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(errorOf(t, r), "--max-conns-per-ip") {
		t.Fatalf("third from 127.0.0.1: %d %s", r.status, r.body)
	}
	// Another address is another client.
	r = rawRoundTrip(t, ts.addr, "127.0.0.2", getReq(ts.addr, "/healthz"))
	if r.status != 200 {
		t.Fatalf("from 127.0.0.2: %d %s", r.status, r.body)
	}
	if got := ts.metric(mConnsRejected + `{reason="max-conns-per-ip"}`); got != 1 {
		t.Errorf("rejected = %v; want 1", got)
	}
}

// G1: whoever closes a connection, stream or keep-alive, and however, it is
// counted once: the count returns to zero.
func TestConnectionsCountedOnce(t *testing.T) {
	ts := startServer(t, Config{KeepAlive: 50 * time.Millisecond, MaxConnsPerIP: 1000})
	var clients []*sseClient
	for range 20 {
		clients = append(clients, dial(t, ts.addr, "/events?topic=a", dialOpt{}))
	}
	tr := &http.Transport{}
	hc := &http.Client{Transport: tr}
	for i := range 10 {
		resp, err := hc.Post("http://"+ts.addr+"/publish", "application/json", strings.NewReader(`{"topic":"a","data":`+strconv.Itoa(i)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	waitFor(t, "21 or more connections", 5*time.Second, func() bool { return ts.guard.openConns() >= 21 })
	for i, c := range clients {
		if i%2 == 0 {
			c.conn.Close()
		}
	}
	tr.CloseIdleConnections()
	waitFor(t, "half the streams and the publisher to go", 5*time.Second, func() bool { return ts.guard.openConns() == 10 })
	// The server ends the other half itself (a slow-client verdict would do
	// the same; here, shutdown): counted once too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every connection to be released", 5*time.Second, func() bool { return ts.guard.openConns() == 0 })
	ts.guard.mu.Lock()
	left := len(ts.guard.perIP)
	ts.guard.mu.Unlock()
	if left != 0 || ts.guard.rejecting.Load() != 0 {
		t.Fatalf("after all closed: %d per-address entries, %d rejecting", left, ts.guard.rejecting.Load())
	}
}

func TestSubscribeToken(t *testing.T) {
	ts := startServer(t, Config{SubscribeToken: "s3cret-token"})
	for _, tc := range []struct {
		name    string
		target  string
		headers []string
		want    int
	}{
		{"nothing", "/events", nil, 401},
		{"wrong bearer", "/events", []string{"Authorization", "Bearer nope"}, 401},
		{"bearer prefix", "/events", []string{"Authorization", "Bearer s3cret"}, 401},
		{"basic", "/events", []string{"Authorization", "Basic s3cret-token"}, 401},
		{"wrong cookie", "/events", []string{"Cookie", "ringcast_token=nope"}, 401},
		{"other cookie", "/events", []string{"Cookie", "token=s3cret-token"}, 401},
		{"wrong query", "/events?token=nope", nil, 401},
		{"bearer", "/events", []string{"Authorization", "Bearer s3cret-token"}, 200},
		{"cookie", "/events", []string{"Cookie", "a=b; ringcast_token=s3cret-token; c=d"}, 200},
		{"cookie escaped", "/events", []string{"Cookie", "ringcast_token=s3cret%2Dtoken"}, 200},
		{"query (weaker)", "/events?topic=a&token=s3cret-token", nil, 200},
		{"any one matching", "/events?token=s3cret-token", []string{"Authorization", "Bearer nope"}, 200},
	} {
		c := dial(t, ts.addr, tc.target, dialOpt{header: tc.headers})
		if c.status() != tc.want {
			t.Errorf("%s: %s; want %d", tc.name, c.Head, tc.want)
		}
		if tc.want == 401 && !strings.Contains(strings.ToLower(c.Head), "www-authenticate: bearer") {
			t.Errorf("%s: no WWW-Authenticate:\n%s", tc.name, c.Head)
		}
		c.conn.Close()
	}
	if got := ts.metric(mRequestsRejected + `{reason="subscribe-unauthorized"}`); got != 7 {
		t.Errorf("rejected subscriptions = %v; want 7", got)
	}
	// The page and publishing do not need it.
	if r := rawRoundTrip(t, ts.addr, "", getReq(ts.addr, "/", "Accept", "text/html")); r.status != 200 {
		t.Errorf("the page: %d", r.status)
	}
	if code, body := ts.post("application/json", `{"topic":"a"}`); code != 200 {
		t.Errorf("publish: %d %s", code, body)
	}
}

func TestOpenPublishOnlyFromLoopback(t *testing.T) {
	ts := startServer(t, Config{CORSOrigins: []string{"*"}})
	body := `{"topic":"a"}`
	for _, tc := range []struct {
		name    string
		host    string
		headers []string
		want    int
		why     string
	}{
		{"loopback", ts.addr, nil, 200, ""},
		{"localhost", "localhost:8080", nil, 200, ""},
		{"ipv6 loopback", "[::1]:8080", nil, 200, ""},
		{"our page", ts.addr, []string{"Origin", "http://" + ts.addr}, 200, ""},
		{"a localhost page", ts.addr, []string{"Origin", "http://app.localhost:3000"}, 200, ""},
		{"rebound name", "evil.example:8080", nil, 403, "Host"},
		{"foreign page", ts.addr, []string{"Origin", "https://evil.example"}, 403, "Origin"},
		{"opaque origin", ts.addr, []string{"Origin", "null"}, 403, "Origin"},
	} {
		req := strings.Replace(postReq(ts.addr, "/publish", "application/json", body, tc.headers...), "Host: "+ts.addr, "Host: "+tc.host, 1)
		r := rawRoundTrip(t, ts.addr, "", req)
		if r.status != tc.want {
			t.Errorf("%s: %d %s; want %d", tc.name, r.status, r.body, tc.want)
			continue
		}
		if tc.want == 403 && (!strings.Contains(errorOf(t, r), tc.why) || !strings.Contains(r.body, "--publish-token")) {
			t.Errorf("%s: %s; want it to explain (%s) and name --publish-token", tc.name, r.body, tc.why)
		}
	}
	if got := ts.metric(mRejected + `{reason="forbidden"}`); got != 3 {
		t.Errorf("forbidden = %v; want 3", got)
	}
	// CORS preflight still answers, so a browser learns why.
	r := rawRoundTrip(t, ts.addr, "", "OPTIONS /publish HTTP/1.1\r\nHost: "+ts.addr+"\r\nOrigin: https://evil.example\r\n\r\n")
	if r.status != 204 {
		t.Errorf("preflight: %d", r.status)
	}
}

// A peer off this machine cannot be dialled from a test (loopback only), so
// the rule is checked on a request context with a documentation address.
func TestOpenPublishRefusesRemotePeer(t *testing.T) {
	var req fasthttp.Request
	req.SetRequestURI("http://127.0.0.1:8080/publish")
	req.Header.SetMethod("POST")
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 4000}, nil)
	if why := openPublishRefusal(&ctx); !strings.Contains(why, "loopback") {
		t.Fatalf("remote peer: %q", why)
	}
	ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 4000}, nil)
	if why := openPublishRefusal(&ctx); why != "" {
		t.Fatalf("v4-mapped loopback peer: %q", why)
	}
	cfg := Config{PublishToken: "t"}
	if mode, _ := publishMode(&ctx, &cfg); mode != "token" {
		t.Fatalf("with a token: %s", mode)
	}
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST:80": true, "localhost.": true, "a.localhost:1": true,
		"127.0.0.1": true, "127.1.2.3:9": true, "[::1]:80": true, "::1": true, "[::ffff:127.0.0.1]:1": true,
		"": false, "example.com": false, "localhost.example.com": false, "127.0.0.1.nip.io": false,
		"10.0.0.1": false, "[::2]:80": false, "0.0.0.0": false, "notlocalhost": false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v", host, got)
		}
	}
}

func TestHeaderAndURLLimits(t *testing.T) {
	ts := startServer(t, Config{MaxHeaderBytes: 4096, MaxURLBytes: 2048})
	r := rawRoundTrip(t, ts.addr, "", getReq(ts.addr, "/events", "X-Junk", strings.Repeat("j", 5000)))
	if r.status != 431 || !strings.Contains(errorOf(t, r), "--max-header-bytes") {
		t.Errorf("big header: %d %s", r.status, r.body)
	}
	r = rawRoundTrip(t, ts.addr, "", getReq(ts.addr, "/events?topic="+strings.Repeat("t", 3000)))
	if r.status != 414 || !strings.Contains(errorOf(t, r), "--max-url-bytes") || !r.closed {
		t.Errorf("long URL: %d %s closed=%v", r.status, r.body, r.closed)
	}
	if got := ts.metric(mRequestsRejected + `{reason="header-too-large"}`); got != 1 {
		t.Errorf("header-too-large = %v", got)
	}
	if got := ts.metric(mRequestsRejected + `{reason="url-too-long"}`); got != 1 {
		t.Errorf("url-too-long = %v", got)
	}
	// Just under both limits is fine.
	if c := dial(t, ts.addr, "/events?topic="+strings.Repeat("t", 200), dialOpt{header: []string{"X-Pad", strings.Repeat("p", 2500)}}); c.status() != 200 {
		t.Errorf("under the limits: %s", c.Head)
	}
}

func TestCORS(t *testing.T) {
	closed := startServer(t, Config{})
	r := rawRoundTrip(t, closed.addr, "", getReq(closed.addr, "/healthz", "Origin", "https://app.example"))
	c := dial(t, closed.addr, "/events", dialOpt{header: []string{"Origin", "https://app.example"}})
	if r.header.Get("Access-Control-Allow-Origin") != "" || strings.Contains(c.Head, "Access-Control") {
		t.Errorf("CORS without --cors-origin: %v\n%s", r.header, c.Head)
	}
	open := startServer(t, Config{CORSOrigins: []string{"https://app.example"}, PublishToken: "tok"})
	c = dial(t, open.addr, "/events", dialOpt{header: []string{"Origin", "https://app.example"}})
	if !strings.Contains(c.Head, "Access-Control-Allow-Origin: https://app.example\r\n") {
		t.Errorf("allowed origin, stream:\n%s", c.Head)
	}
	c = dial(t, open.addr, "/events", dialOpt{header: []string{"Origin", "https://evil.example"}})
	if strings.Contains(c.Head, "Access-Control") {
		t.Errorf("other origin, stream:\n%s", c.Head)
	}
	r = rawRoundTrip(t, open.addr, "", "OPTIONS /publish HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
}

func TestStartupLogSaysWhoMayPublish(t *testing.T) {
	for _, tok := range []string{"", "tok"} {
		var buf lockedBuffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		ts := startServer(t, Config{PublishToken: tok, Logger: log})
		waitFor(t, "the startup log", 5*time.Second, func() bool { return strings.Contains(buf.String(), "defences") })
		got := buf.String()
		if says := strings.Contains(got, "only loopback clients may publish"); says != (tok == "") {
			t.Errorf("token %q: the log says so = %v:\n%s", tok, says, got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ts.Shutdown(ctx)
		cancel()
	}
}

// lockedBuffer is a log destination the server's goroutines write to
// while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestGuardConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{MaxHeaderBytes: 100}, "MaxHeaderBytes"},
		{Config{MaxHeaderBytes: 2 << 20}, "MaxHeaderBytes"},
		{Config{MaxHeaderBytes: MinHeaderBytes - 1}, fmt.Sprintf("MaxHeaderBytes %d is below the minimum, %d", MinHeaderBytes-1, MinHeaderBytes)},
		{Config{MaxHeaderBytes: MinHeaderBytes, MaxURLBytes: MinHeaderBytes + 1}, "MaxURLBytes"},
		{Config{MaxURLBytes: 64}, "MaxURLBytes"},
		{Config{MaxURLBytes: MinURLBytes - 1}, fmt.Sprintf("MaxURLBytes %d is below the minimum, %d", MinURLBytes-1, MinURLBytes)},
		// The token may travel in the URL too: s3cr%2Ft.
		{Config{MaxURLBytes: MinURLBytes + 14, SubscribeToken: "s3cr/t"}, fmt.Sprintf("minimum, %d", MinURLBytes+15)},
		// and in the head, in the URL or as a cookie.
		{Config{MaxHeaderBytes: MinHeaderBytes + 14, SubscribeToken: "s3cr/t"}, fmt.Sprintf("MaxHeaderBytes %d is below the minimum, %d", MinHeaderBytes+14, MinHeaderBytes+15)},
		{Config{ReadTimeout: time.Millisecond}, "ReadTimeout"},
		{Config{PublishToken: "has space"}, "PublishToken"},
		{Config{SubscribeToken: "semi;colon"}, "SubscribeToken"},
		{Config{SubscribeToken: "tab\there"}, "SubscribeToken"},
	} {
		_, err := New(tc.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), "transport: "+ce.Field+" ") || strings.Contains(err.Error(), "-bytes") {
			t.Errorf("%+v: %v; want a *ConfigError naming %s", tc.cfg, err, tc.want)
		}
	}
	s, err := New(Config{MaxHeaderBytes: MinHeaderBytes})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c.MaxURLBytes != MinHeaderBytes || c.ReadTimeout != 10*time.Second || c.MaxConns == 0 {
		t.Errorf("defaults: url %d, read timeout %v, max conns %d", c.MaxURLBytes, c.ReadTimeout, c.MaxConns)
	}
}

// A browser's EventSource cannot set Last-Event-ID on its first connection,
// so one that resumes there puts the id in the URL, and gives up for good on
// any HTTP error. At the smallest limits the longest such URL gets a stream,
// and so does the browser's reconnection, which keeps that URL and adds the
// header; New refuses anything smaller (TestGuardConfig).
func TestSmallestLimitsAdmitResume(t *testing.T) {
	epoch := strings.Repeat("e", eventid.MaxEpochLen)
	topic := strings.Repeat("é", MaxTopicLen/2) // every byte percent-encoded
	longest := eventid.Format(epoch, 1<<64-1, topic)
	target := "/events?lastEventId=" + url.QueryEscape(longest) + "&topic=" + url.QueryEscape(topic)
	if len(longest) != eventid.MaxLen || len(target) != MinURLBytes {
		t.Fatalf("the longest id is %d bytes, its resume URL %d; want %d and %d", len(longest), len(target), eventid.MaxLen, MinURLBytes)
	}
	head := "GET " + target + " HTTP/1.1\r\nLast-Event-ID: " + longest + "\r\n\r\n"
	if len(head) != reconnectHeadBytes || reconnectHeadBytes > MinHeaderBytes {
		t.Fatalf("the reconnection's head is %d bytes, reconnectHeadBytes %d, MinHeaderBytes %d", len(head), reconnectHeadBytes, MinHeaderBytes)
	}
	const token = "s3cr/t"
	for _, tc := range []struct {
		name   string
		cfg    Config
		target string
	}{
		{"no token", Config{MaxHeaderBytes: MinHeaderBytes, MaxURLBytes: MinURLBytes}, target},
		{"token in the URL", Config{MaxURLBytes: MinURLBytes + len("&token=s3cr%2Ft"), SubscribeToken: token}, target + "&token=" + url.QueryEscape(token)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Epoch = epoch
			ts := startServer(t, tc.cfg)
			if len(tc.target) != ts.Config().MaxURLBytes {
				t.Fatalf("the URL is %d bytes; the limit %d", len(tc.target), ts.Config().MaxURLBytes)
			}
			for _, lastID := range []string{"", longest} { // first connection, then reconnection
				c := dial(t, ts.addr, tc.target, dialOpt{lastID: lastID})
				if c.status() != 200 {
					t.Fatalf("resume (Last-Event-ID %q) at the smallest limits: %s", lastID, c.Head)
				}
				// This server never issued it: a reset that quotes it whole.
				ev := c.next(1, 5*time.Second)[0]
				if n := decodeNotice(t, ev); ev.Type != EventReset || n.LastEventID != longest {
					t.Fatalf("the longest id: %s %q; want a reset quoting it whole", ev.Type, ev.Data)
				}
			}
			// The limit is the URL's length exactly: a byte more is refused.
			if r := rawRoundTrip(t, ts.addr, "", getReq(ts.addr, tc.target+"&")); r.status != 414 {
				t.Errorf("a byte longer: %d %s", r.status, r.body)
			}
		})
	}
}

func TestClientKey(t *testing.T) {
	key := func(s string) string { return clientKey(&net.TCPAddr{IP: net.ParseIP(s), Port: 1}).String() }
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"}, // one /64: one client
		{"::ffff:192.0.2.1", "192.0.2.1"},                       // v4-mapped is v4
	} {
		if key(tc.a) != key(tc.b) {
			t.Errorf("%s and %s count apart: %s, %s", tc.a, tc.b, key(tc.a), key(tc.b))
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "192.0.2.2"},
	} {
		if key(tc.a) == key(tc.b) {
			t.Errorf("%s and %s count together", tc.a, tc.b)
		}
	}
	if got := clientKey(&net.UnixAddr{Name: "@x", Net: "unix"}); got.IsValid() {
		t.Errorf("a unix address: %v", got)
	}
}
