package transport

// Hostile input. Each kind gets a clear error (the right status and a JSON
// message that says what is wrong) or is neutralised (made harmless and
// served); the server keeps serving everyone else meanwhile, and nothing it
// accepted is lost: a watcher subscribed from the start receives every
// accepted event, in order, and nothing else.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/ringcast/ringcast/internal/servetest"
	"github.com/ringcast/ringcast/transport/internal/eventid"
)

func TestHostilePublish(t *testing.T) {
	ts := startServer(t, Config{MaxEventBytes: 64 << 10, MaxBodyBytes: 256 << 10})
	watcher := dial(t, ts.addr, "/events", dialOpt{})
	type accepted struct{ id, data string }
	var want []accepted
	publishGood := func(data string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"topic": "good", "data": data})
		code, resp := ts.post("application/json", string(body))
		if code != 200 {
			t.Fatalf("a good publish after hostile input: %d %s", code, resp)
		}
		var r struct{ IDs []string }
		_ = json.Unmarshal([]byte(resp), &r)
		want = append(want, accepted{r.IDs[0], data})
	}
	// expect posts body and checks the status and that the JSON error
	// mentions each of mention.
	expect := func(name, ctype, body string, status int, mention ...string) {
		t.Helper()
		code, resp := ts.post(ctype, body)
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(resp), &e); err != nil || code != status {
			t.Errorf("%s: %d %q; want %d with a JSON error", name, code, resp, status)
			return
		}
		for _, m := range mention {
			if !strings.Contains(e.Error, m) {
				t.Errorf("%s: %q does not mention %q", name, e.Error, m)
			}
		}
		publishGood(name)
	}
	const js, nd = "application/json", "application/x-ndjson"
	deep := func(n int, open, close string) string {
		return `{"topic":"a","data":` + strings.Repeat(open, n) + strings.Repeat(close, n) + `}`
	}

	// Malformed JSON.
	expect("cut short", js, `{"topic":"a","data":`, 400, "malformed JSON")
	expect("trailing comma", js, `{"topic":"a",}`, 400, "malformed JSON")
	expect("bare word", js, `nul`, 400, "JSON object")
	expect("bad literal", js, `{"topic":"a","data":tru}`, 400, "malformed JSON")
	expect("single quotes", js, `{'topic':'a'}`, 400, "malformed JSON")
	expect("BOM", js, "\xef\xbb\xbf"+`{"topic":"a"}`, 400, "JSON object")
	expect("an id of our own", js, `{"topic":"a","id":"x\ny"}`, 400, `unknown field "id"`)
	expect("two objects", js, `{"topic":"a"}{"topic":"b"}`, 400, "after the JSON object")
	expect("bad line in a batch", nd, `{"topic":"a"}`+"\n"+`{"topic":`+"\n", 400, "line 2", "malformed JSON")

	// Deeply nested: beyond the decoder's depth limit, a clear 400; within
	// it, an ordinary event (bounded by --max-event-bytes either way).
	expect("nested arrays", js, deep(10_001, "[", "]"), 400, "depth")
	expect("nested objects", js, `{"topic":"a","data":`+strings.Repeat(`{"a":`, 10_001)+"1"+strings.Repeat("}", 10_001)+`}`, 400, "depth")
	expect("nested beyond the size limit", js, deep(40_000, "[", "]"), 413, "--max-event-bytes")
	if code, resp := ts.post(js, deep(500, "[", "]")); code != 200 {
		t.Errorf("500 levels: %d %s", code, resp)
	} else {
		var r struct{ IDs []string }
		_ = json.Unmarshal([]byte(resp), &r)
		want = append(want, accepted{r.IDs[0], strings.Repeat("[", 500) + strings.Repeat("]", 500)})
	}

	// Invalid UTF-8, anywhere in the JSON text: a 400 that says where (JSON
	// text must be UTF-8, RFC 8259), never a U+FFFD the publisher did not
	// send. Bytes count from 1, as in the malformed-JSON message.
	expect("invalid UTF-8 outside a string", js, "{\"topic\":\"a\",\"data\":\xff}", 400, "not valid UTF-8 at byte 21")
	expect("invalid UTF-8 in data", js, "{\"topic\":\"good\",\"data\":\"a\xffb\xc3\"}", 400, "not valid UTF-8 at byte 26")
	expect("invalid UTF-8 in topic", js, "{\"topic\":\"\xc3(\"}", 400, "not valid UTF-8 at byte 11")
	expect("truncated rune in event", js, "{\"topic\":\"a\",\"event\":\"\xe2\x82\"}", 400, "not valid UTF-8 at byte 23")
	expect("surrogate half in key", js, "{\"topic\":\"a\",\"key\":\"\xed\xa0\x80\"}", 400, "not valid UTF-8 at byte 21")
	expect("overlong encoding in data", js, "{\"topic\":\"a\",\"data\":{\"k\":\"\xc0\xaf\"}}", 400, "not valid UTF-8 at byte 27")
	expect("invalid UTF-8 on line 3 of a batch", nd,
		"{\"topic\":\"a\"}\n{\"topic\":\"b\"}\r\n{\"topic\":\"c\",\"data\":\"\xff\"}\n{\"topic\":\"d\"}", 400, "line 3: not valid UTF-8 at byte 22")

	// NUL and line breaks where a single line is required.
	for _, field := range []string{"event", "key"} {
		for _, bad := range []string{`x\ny`, `x\ry`, `x\r\ny`, `x\u0000y`, `\n`} {
			expect(field+" "+bad, js, `{"topic":"a","`+field+`":"`+bad+`"}`, 400, `"`+field+`" must be one line`)
		}
	}
	for _, bad := range []string{`x\ny`, `x\ry`, `x\u0000y`, `x\ty`, `x\u007fy`} {
		expect("topic "+bad, js, `{"topic":"`+bad+`"}`, 400, `"topic" must not contain control characters`)
	}
	expect("reserved event name", js, `{"topic":"a","event":"lagged"}`, 400, "reserved")

	// Huge: an event over --max-event-bytes, a body over --max-body-bytes
	// (announced, or streamed without a length), and a body announced far
	// beyond it (refused before it is read).
	expect("huge event", js, `{"topic":"a","data":"`+strings.Repeat("x", 70<<10)+`"}`, 413, "--max-event-bytes")
	batch := strings.Repeat(`{"topic":"a","data":"`+strings.Repeat("y", 1000)+`"}`+"\n", 300)
	if st, msg := floodPublish(t, ts.addr, "Content-Length: "+strconv.Itoa(len(batch)), batch); st != 413 || (msg != "" && !strings.Contains(msg, "--max-body-bytes")) {
		t.Errorf("huge batch: %d %s", st, msg)
	}
	r := rawRoundTrip(t, ts.addr, "", "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n")
	if r.status != 413 || !strings.Contains(errorOf(t, r), "--max-body-bytes") {
		t.Errorf("announced terabyte: %d %s", r.status, r.body)
	}
	r = rawRoundTrip(t, ts.addr, "", "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 1000000000000\r\n\r\n")
	if r.status != 413 || !strings.Contains(errorOf(t, r), "--max-body-bytes") {
		t.Errorf("announced terabyte, expecting 100-continue: %d %s", r.status, r.body)
	}
	chunk := strings.Repeat(`{"topic":"a"}`+"\n", 4096)
	endless := strings.Repeat(strconv.FormatInt(int64(len(chunk)), 16)+"\r\n"+chunk+"\r\n", (4<<20)/len(chunk))
	if st, msg := floodPublish(t, ts.addr, "Transfer-Encoding: chunked", endless); st != 413 || (msg != "" && !strings.Contains(msg, "--max-body-bytes")) {
		t.Errorf("endless chunked body: %d %s", st, msg)
	}
	publishGood("after the floods")

	// Everything accepted arrived, in order, and nothing else.
	evs := watcher.next(len(want), 10*time.Second)
	for i, w := range want {
		if evs[i].LastEventID != w.id || evs[i].Data != w.data || evs[i].Type != "message" {
			t.Fatalf("watcher event %d: %s %q; want %s %q", i, evs[i].LastEventID, evs[i].Data, w.id, w.data)
		}
	}
	watcher.expectNothing(50 * time.Millisecond)
	if !utf8.Valid(watcher.raw.Bytes()) {
		t.Errorf("the stream is not valid UTF-8")
	}
	if got := ts.metric("ringcast_events_published_total"); got != float64(len(want)) {
		t.Errorf("published = %v; want %d", got, len(want))
	}
}

// Request heads that announce a large body and send nothing of it: each
// must cost the server what a connection costs, not the body it announced,
// on any path and before any token check (issue 17, item 1).
func TestHeadOnlyRequestsCommitNoMemory(t *testing.T) {
	const conns = 200
	const announced = 1 << 20 // each head announces the whole --max-body-bytes
	s, err := New(Config{Epoch: testEpoch, Logger: testLogger(), MaxBodyBytes: announced, PublishToken: "tok", ReadTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var heads atomic.Int64
	next := s.fast.HeaderReceived
	s.fast.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		heads.Add(1)
		if next != nil {
			return next(h)
		}
		return fasthttp.RequestConfig{}
	}
	addr := servetest.Loopback(t, s)
	watcher := dial(t, addr, "/events", dialOpt{}) // a steady subscriber beside the attack

	heapInUse := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	before := heapInUse()
	heads4 := []string{
		"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n",
		"POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n",                              // no token
		"POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer tok\r\n", // authorised
		"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n",
	}
	var cs []net.Conn
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
		if _, err := io.WriteString(c, heads4[i%len(heads4)]+"Content-Length: "+strconv.Itoa(announced)+"\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the server to read every head", 10*time.Second, func() bool { return heads.Load() == conns+1 }) // and the watcher's
	var grew uint64
	for range 3 { // the largest of a few readings: allocation follows the head closely
		if h := heapInUse(); h > before {
			grew = max(grew, h-before)
		}
	}
	t.Logf("%d head-only requests announcing %d bytes each: the heap grew by %.1f MiB", conns, announced, float64(grew)/(1<<20))
	if limit := uint64(conns * 64 << 10); grew > limit {
		t.Fatalf("the heap grew by %d bytes for %d request heads (%d per head); want at most 64 KiB per head, whatever the head announces",
			grew, conns, grew/conns)
	}
	// The watcher loses nothing meanwhile.
	var ids []string
	for i := range 100 {
		got, err := s.Publish(Event{Topic: "steady", Data: []byte(strconv.Itoa(i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got[0])
	}
	evs := watcher.next(len(ids), 10*time.Second)
	for i, id := range ids {
		if evs[i].LastEventID != id {
			t.Fatalf("the watcher's event %d: %s; want %s", i, evs[i].LastEventID, id)
		}
	}
}

// A body nobody takes is refused before any of it is read: a GET's, and a
// publish's with the wrong token; a route added by Handle gets its body
// within --max-body-bytes; an authorised publish may trickle its body in.
func TestBodiesRefusedUnread(t *testing.T) {
	ts := startServer(t, Config{PublishToken: "tok", MaxBodyBytes: 64 << 10, ReadTimeout: 2 * time.Second})
	for _, req := range []string{
		"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello",
		"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HEAD /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 16777216\r\n\r\n",
	} {
		r := rawRoundTrip(t, ts.addr, "", req)
		if r.status != 413 || !r.closed || (!strings.HasPrefix(req, "HEAD") && !strings.Contains(errorOf(t, r), "takes no body")) {
			t.Errorf("%.40q: %d closed=%v %s; want 413 and close", req, r.status, r.closed, r.body)
		}
	}
	for _, req := range []string{
		"POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 16777216\r\n\r\n{",
		"POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer nope\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n",
		"POST /pub%6cish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
	} {
		r := rawRoundTrip(t, ts.addr, "", req)
		if r.status != 401 || !r.closed {
			t.Errorf("%.60q: %d closed=%v %s; want 401 and close, before the body", req, r.status, r.closed, r.body)
		}
	}
	// A client cannot forge the mark of a refused body.
	r := rawRoundTrip(t, ts.addr, "", postReq(ts.addr, "/publish", "application/json", `{"topic":"a"}`,
		"Authorization", "Bearer tok", bodyRefused, refusedUnauthorized))
	if r.status != 200 {
		t.Errorf("a publish that names the mark itself: %d %s", r.status, r.body)
	}

	// An authorised publish sends its body in pieces, slower than fasthttp's
	// prefetch: the handler reads it all.
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ev := `{"topic":"a","data":"` + strings.Repeat("z", 20<<10) + `"}`
	_, _ = io.WriteString(c, "POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(ev))+"\r\n\r\n")
	for i := 0; i < len(ev); i += 4 << 10 {
		_, _ = io.WriteString(c, ev[i:min(i+4<<10, len(ev))])
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a publish in pieces: %v %v", resp, err)
	}
	resp.Body.Close()
}

// A route added by Handle gets its request body in ctx.PostBody(), within
// --max-body-bytes.
func TestHandleRouteBody(t *testing.T) {
	s, err := New(Config{Epoch: testEpoch, Logger: testLogger(), MaxBodyBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("/echo", func(ctx *fasthttp.RequestCtx) { ctx.SetBody(ctx.PostBody()) })
	addr := servetest.Loopback(t, s)
	if r := rawRoundTrip(t, addr, "", postReq(addr, "/echo", "text/plain", "hello")); r.status != 200 || r.body != "hello" {
		t.Errorf("/echo: %d %q", r.status, r.body)
	}
	chunk := strings.Repeat("x", 16<<10)
	chunked := strings.Repeat(strconv.FormatInt(int64(len(chunk)), 16)+"\r\n"+chunk+"\r\n", 5) + "0\r\n\r\n"
	if st, _ := floodRequest(t, addr, "/echo", "Transfer-Encoding: chunked", chunked); st != 413 {
		t.Errorf("/echo with 80 KiB chunked: %d; want 413", st)
	}
}

// floodPublish sends a publish with the framing header and body given,
// reading the answer while it writes (the server answers and closes before
// it has read it all), and returns the status and, when it arrived whole,
// the JSON error.
func floodPublish(t *testing.T, addr, framing, body string) (int, string) {
	t.Helper()
	return floodRequest(t, addr, "/publish", framing, body)
}

// floodRequest is floodPublish to path.
func floodRequest(t *testing.T, addr, path, framing, body string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	type answer struct {
		status int
		msg    string
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			got <- answer{}
			return
		}
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		got <- answer{resp.StatusCode, e.Error}
	}()
	_, _ = io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n"+framing+"\r\n\r\n")
	for len(body) > 0 {
		n := min(len(body), 64<<10)
		select {
		case a := <-got:
			return a.status, a.msg
		default:
		}
		if _, err := io.WriteString(c, body[:n]); err != nil {
			break // the server stopped reading: its answer is on the way
		}
		body = body[n:]
	}
	a := <-got
	return a.status, a.msg
}

// floodChildEnv runs TestFloodChildServer, the server that
// TestConnectionFloodBeyondDescriptorLimit floods, in a child process
// under a low descriptor limit; its value is the server's MaxConns.
const floodChildEnv = "RINGCAST_TEST_FLOOD_CHILD"

const floodFDLimit = 256 // the child's RLIMIT_NOFILE

// A flood of silent connections three times the descriptor limit: the server
// keeps serving (accept waits out EMFILE instead of stopping), lets the flood
// go at --read-timeout, and answers a newcomer afterwards; with the default
// --max-conns, the connections waiting for their 429 fit its headroom too
// (issue 17, item 2). The server runs in a child process, so that its limit
// is its own; everything stays on loopback.
func TestConnectionFloodBeyondDescriptorLimit(t *testing.T) {
	if os.Getenv(floodChildEnv) != "" {
		t.Skip("in the child")
	}
	for _, tc := range []struct {
		name     string
		maxConns int
	}{
		{"default max-conns", 0}, // 90% of the limit, the 429s in the headroom
		{"no max-conns", -1},     // every descriptor taken: accept fails with EMFILE
	} {
		t.Run(tc.name, func(t *testing.T) { floodChild(t, tc.maxConns) })
	}
}

func floodChild(t *testing.T, maxConns int) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFloodChildServer$", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), floodChildEnv+"="+strconv.Itoa(maxConns))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := bufio.NewScanner(stdout)
	addr := ""
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			addr = a
			break
		}
	}
	go func() {
		for lines.Scan() {
			t.Logf("child: %s", lines.Text())
		}
		exited <- cmd.Wait()
	}()
	defer func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	if addr == "" {
		t.Fatalf("the child server did not start: %s", stderr.String())
	}

	const flood = 3 * floodFDLimit
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range flood { // silent connects: the kernel completes them, the server must accept them
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connect %d: %v", len(conns)+1, err)
		}
		conns = append(conns, c)
	}
	select {
	case err := <-exited:
		t.Fatalf("the server stopped under the flood: %v\n%s", err, stderr.String())
	default:
	}

	// A newcomer is served once the server has worked through the flood
	// (each silent connection is let go at the read timeout), while the
	// flood's sockets are still open on our side. Until then it may be
	// answered 429, or closed at accept when too many wait for their 429.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	waitFor(t, "a newcomer to be served after the flood", 20*time.Second, func() bool {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	retries := metricValue(t, string(metrics), mAcceptRetries)
	rejected := metricValue(t, string(metrics), mConnsRejected+`{reason="max-conns"}`)
	t.Logf("%d silent connections against a limit of %d descriptors: %v accept retries, %v answered 429 or closed at accept",
		flood, floodFDLimit, retries, rejected)
	if maxConns == 0 && (retries != 0 || rejected == 0) {
		t.Errorf("default max-conns: %v accept retries, %v rejections; want none (the 429s fit the headroom) and some", retries, rejected)
	}
	if maxConns < 0 && retries == 0 {
		t.Errorf("no max-conns: no accept retries; the flood should have run the process out of descriptors")
	}
	select {
	case err := <-exited:
		t.Fatalf("the server stopped: %v\n%s", err, stderr.String())
	default:
	}
}

// TestFloodChildServer is the server of the flood test, in the child.
func TestFloodChildServer(t *testing.T) {
	v := os.Getenv(floodChildEnv)
	if v == "" {
		t.Skip("run by TestConnectionFloodBeyondDescriptorLimit in a child process")
	}
	maxConns, _ := strconv.Atoi(v)
	rl := syscall.Rlimit{Cur: floodFDLimit, Max: floodFDLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Epoch: testEpoch, Logger: testLogger(), MaxConns: maxConns, ReadTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case err := <-served:
		fmt.Printf("Serve returned: %v\n", err)
		os.Exit(3)
	case <-stdinClosed:
	}
	shutdownAndWait(t, s, served, "Serve")
}

// metricValue returns the value of the sample name in a Prometheus text page.
func metricValue(t *testing.T, page, name string) float64 {
	t.Helper()
	for _, l := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// Slowloris: connections that trickle their headers and never finish hold a
// place only until --read-timeout; meanwhile an open stream keeps flowing
// and a newcomer gets a clear 429, then a place.
func TestSlowloris(t *testing.T) {
	const readTimeout = 400 * time.Millisecond
	ts := startServer(t, Config{ReadTimeout: readTimeout, MaxConns: 9})
	stream := dial(t, ts.addr, "/events", dialOpt{})

	var lorises []net.Conn
	for i := range 8 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		lorises = append(lorises, c)
		if i%2 == 0 { // half never send a byte, half trickle
			_, _ = io.WriteString(c, "GET /events HTTP/1.1\r\nHost: x\r\n")
		}
	}
	waitFor(t, "the server to fill up", 5*time.Second, func() bool { return ts.guard.openConns() == 9 })
	start := time.Now()
	trickle := time.NewTicker(readTimeout / 8)
	defer trickle.Stop()
	stopTrickle := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		for {
			select {
			case <-stopTrickle:
				return
			case <-trickle.C:
				for i := 0; i < len(lorises); i += 2 {
					_, _ = io.WriteString(lorises[i], "X-Slow: 1\r\n")
				}
			}
		}
	}()

	// Full: a newcomer is told so, and the stream keeps flowing.
	r := rawRoundTrip(t, ts.addr, "", getReq(ts.addr, "/events"))
	if r.status != 429 {
		t.Fatalf("newcomer while full: %d %s", r.status, r.body)
	}
	id := ts.publish(Event{Topic: "a", Data: []byte("during the attack")})[0]
	if evs := stream.next(1, 5*time.Second); evs[0].LastEventID != id {
		t.Fatalf("the stream got %s during the attack", fmtEvents(evs))
	}

	// Each loris is let go at its read timeout (answered 408 where it got
	// as far as a request line), however it trickles.
	for i, c := range lorises {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil && !isConnReset(err) {
			t.Fatalf("loris %d: %v", i, err)
		}
		if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 408") {
			t.Errorf("loris %d was answered %q", i, b)
		}
	}
	close(stopTrickle)
	<-trickled
	if took := time.Since(start); took > 2*readTimeout+time.Second {
		t.Errorf("the lorises held on for %v; the read timeout is %v", took, readTimeout)
	}
	waitFor(t, "the lorises' places to free", 5*time.Second, func() bool { return ts.guard.openConns() == 1 })
	if c := dial(t, ts.addr, "/events", dialOpt{}); c.status() != 200 {
		t.Fatalf("newcomer after the attack: %s", c.Head)
	}
	if got := ts.metric(mRequestsRejected + `{reason="read-timeout"}`); got < 4 {
		t.Errorf("read-timeout rejections = %v; want at least the 4 that sent a request line", got)
	}
}

// Thousands of topics in one subscription: refused with a clear error at
// the head, URL or topic limit, whichever is lower; never a stream.
func TestThousandsOfTopics(t *testing.T) {
	q := url.Values{}
	for i := range 5000 {
		q.Add("topic", "t"+strconv.Itoa(i))
	}
	target := "/events?" + q.Encode()

	def := startServer(t, Config{})
	r := rawRoundTrip(t, def.addr, "", getReq(def.addr, target))
	if r.status != 431 || !strings.Contains(errorOf(t, r), "fewer") {
		t.Errorf("default limits: %d %s", r.status, r.body)
	}

	big := startServer(t, Config{MaxHeaderBytes: 1 << 20, MaxURLBytes: 16 << 10})
	r = rawRoundTrip(t, big.addr, "", getReq(big.addr, target))
	if r.status != 414 || !strings.Contains(errorOf(t, r), "--max-url-bytes") {
		t.Errorf("URL limit: %d %s", r.status, r.body)
	}

	huge := startServer(t, Config{MaxHeaderBytes: 1 << 20, MaxURLBytes: 1 << 20})
	watcher := dial(t, huge.addr, "/events?topic=t7", dialOpt{})
	start := time.Now()
	r = rawRoundTrip(t, huge.addr, "", getReq(huge.addr, target))
	if r.status != 400 || !strings.Contains(errorOf(t, r), "--max-topics") {
		t.Errorf("topic limit: %d %s", r.status, r.body)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("refusing 5000 topics took %v", took)
	}
	// The same topic 5000 times is one topic.
	same := strings.Repeat("topic=t7&", 5000)
	c := dial(t, huge.addr, "/events?"+same, dialOpt{})
	if c.status() != 200 {
		t.Fatalf("one topic repeated: %s", c.Head)
	}
	// At the limit exactly: served.
	q = url.Values{}
	for i := range huge.Config().MaxTopics {
		q.Add("topic", "t"+strconv.Itoa(i))
	}
	atLimit := dial(t, huge.addr, "/events?"+q.Encode(), dialOpt{})
	if atLimit.status() != 200 {
		t.Fatalf("at the topic limit: %s", atLimit.Head)
	}
	id := huge.publish(Event{Topic: "t7", Data: []byte("x")})[0]
	for _, cl := range []*sseClient{watcher, c, atLimit} {
		if evs := cl.next(1, 5*time.Second); evs[0].LastEventID != id {
			t.Fatalf("got %s; want %s", fmtEvents(evs), id)
		}
	}
}

// A Last-Event-ID of every bad shape: never an HTTP error (EventSource would
// give up), always a reset notice that says why and quotes the id safely,
// then live events.
func TestHostileLastEventID(t *testing.T) {
	ts := startServer(t, Config{})
	ts.publishN("a", 3, "old")
	long := strings.Repeat("9", 4000)
	cases := []struct {
		name, header, query string // one of header and query
		reason              string
		quoted              string // what the notice's lastEventId must be
	}{
		{name: "word", header: "x", reason: "malformed"},
		{name: "dash", header: "-", reason: "malformed"},
		{name: "epoch only", header: "test", reason: "malformed"},
		{name: "no sequence", header: "test-", reason: "malformed"},
		{name: "no epoch", header: "-1", reason: "malformed"},
		{name: "zero", header: "test-0", reason: "malformed"},
		{name: "leading zero", header: "test-01", reason: "malformed"},
		{name: "negative", header: "test--1", reason: "malformed"},
		{name: "plus", header: "test-+1", reason: "malformed"},
		{name: "fraction", header: "test-1.0", reason: "malformed"},
		{name: "exponent", header: "test-1e3", reason: "malformed"},
		{name: "hex", header: "test-0x1", reason: "malformed"},
		{name: "two dashes", header: "test-1-2", reason: "malformed"},
		{name: "upper case", header: "TEST-1", reason: "malformed"},
		{name: "overflow", header: "test-18446744073709551616", reason: "malformed"},
		{name: "too many digits", header: "test-" + strings.Repeat("1", 25), reason: "malformed"},
		{name: "never issued", header: "test-18446744073709551615", reason: "malformed"},
		{name: "long epoch", header: strings.Repeat("e", 17) + "-1", reason: "malformed"},
		{name: "other epoch", header: "zz9-2", reason: "epoch"},
		{name: "unicode", header: "tést-1", reason: "malformed"},
		{name: "quotes and backslashes", header: `"\",\\-1`, reason: "malformed"},
		{name: "invalid UTF-8", header: "\xff\xfe-1", reason: "malformed", quoted: "\uFFFD\uFFFD-1"},
		{name: "long", header: long, reason: "malformed", quoted: long[:eventid.MaxLen]},
		// The topic part: ignored for positioning, but malformed is malformed.
		{name: "empty topic", header: "test-1/", reason: "malformed"},
		{name: "topic too long", header: "test-1/" + strings.Repeat("t", MaxTopicLen+1), reason: "malformed"},
		{name: "topic of invalid UTF-8", header: "test-1/\xff", reason: "malformed", quoted: "test-1/\uFFFD"},
		{name: "topic with a tab", header: "test-1/a\tb", reason: "malformed"},
		{name: "topic with DEL (query)", query: "test-1/a\x7f", reason: "malformed"},
		{name: "topic with LF (query)", query: "test-1/a\nid: evil", reason: "malformed"},
		{name: "other epoch with a topic", header: "zz9-2/a", reason: "epoch"},
		{name: "leading space (query)", query: " test-1", reason: "malformed"},
		{name: "LF and a forged event (query)", query: "test-1\nevent: evil\ndata: x\n\n", reason: "malformed"},
		{name: "CR (query)", query: "test-1\rid: evil", reason: "malformed"},
		{name: "NUL (query)", query: "test-1\x00", reason: "malformed"},
		{name: "invalid UTF-8 (query)", query: "\xc3(-1", reason: "malformed", quoted: "\uFFFD(-1"},
	}
	var clients []*sseClient
	for _, tc := range cases {
		var c *sseClient
		sent := tc.header
		if tc.query != "" {
			sent = tc.query
			c = dial(t, ts.addr, "/events?topic=a&lastEventId="+url.QueryEscape(tc.query), dialOpt{})
		} else {
			c = dial(t, ts.addr, "/events?topic=a", dialOpt{lastID: tc.header})
		}
		if c.status() != 200 {
			t.Errorf("%s: %s", tc.name, c.Head)
			continue
		}
		ev := c.next(1, 5*time.Second)[0]
		n := decodeNotice(t, ev)
		quoted := tc.quoted
		if quoted == "" {
			quoted = sent
		}
		if ev.Type != "reset" || n.Reason != tc.reason || n.LastEventID != quoted || n.Missed != nil || ev.LastEventID != "" {
			t.Errorf("%s: %s %q; want a reset, reason %s, quoting %.40q", tc.name, ev.Type, ev.Data, tc.reason, quoted)
		}
		clients = append(clients, c)
	}
	id := ts.publish(Event{Topic: "a", Data: []byte("live")})[0]
	for i, c := range clients {
		evs := c.next(1, 5*time.Second)
		if evs[0].LastEventID != id || evs[0].Type != "message" || evs[0].Data != "live" {
			t.Errorf("client %d after its reset: %s", i, fmtEvents(evs))
		}
		if !utf8.Valid(c.raw.Bytes()) {
			t.Errorf("client %d: the stream is not valid UTF-8: %q", i, c.raw.Bytes())
		}
	}
	// A header the HTTP parser refuses (a bare CR or a NUL in a header
	// line) is a 400 before any stream; nothing reaches the resume logic.
	for _, raw := range []string{"test-1\x00", "test-1\rx"} {
		r := rawRoundTrip(t, ts.addr, "", "GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: "+raw+"\r\n\r\n")
		if r.status == 200 {
			// Accepted by the parser: then it must have been neutralised
			// like the query forms above.
			if !strings.Contains(r.body, "event: reset") {
				t.Errorf("Last-Event-ID %q: a stream without a reset", raw)
			}
		} else if r.status != 400 {
			t.Errorf("Last-Event-ID %q: %d %s", raw, r.status, r.body)
		}
	}
	// And the valid id still resumes exactly.
	for _, valid := range []string{"test-2", "test-2/a", "test-2/" + strings.Repeat("t", MaxTopicLen)} {
		c := dial(t, ts.addr, "/events?topic=a", dialOpt{lastID: valid})
		if evs := c.next(2, 5*time.Second); evs[0].LastEventID != "test-3/a" || evs[1].LastEventID != id {
			t.Fatalf("valid resume after %.20q: %s", valid, fmtEvents(evs))
		}
	}
}
