//go:build unix

package transport

import (
	"context"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ringcast/ringcast/internal/servetest"
	"github.com/ringcast/ringcast/transport/internal/eventid"
	"github.com/ringcast/ringcast/transport/internal/headless"
)

// The smallest request limits New accepts must admit a real browser that
// resumes on the longest topic: its first connection carries the id and the
// topic in the URL, its reconnection keeps that URL and adds Last-Event-ID,
// and Chromium adds a dozen headers of its own. A 414 or 431 there makes
// EventSource give up for good.
func TestBrowserResumesAtTheSmallestLimits(t *testing.T) {
	path := browserOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cfg := Config{
		MaxHeaderBytes: MinHeaderBytes,
		MaxURLBytes:    MinURLBytes,
		Epoch:          strings.Repeat("e", eventid.MaxEpochLen),
		Retry:          200 * time.Millisecond,
		Logger:         testLogger(),
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.fast.MaxIdleWorkerDuration = 50 * time.Millisecond
	var mu sync.Mutex
	var heads []int      // the head size of each GET /events
	var resumed []string // its Last-Event-ID header
	s.Use(func(next fasthttp.RequestHandler) fasthttp.RequestHandler {
		return func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) == "/events" {
				h := &ctx.Request.Header
				n := len(h.Method()) + 1 + len(h.RequestURI()) + 1 + len(h.Protocol()) + 2 + len(h.RawHeaders())
				mu.Lock()
				heads = append(heads, n)
				resumed = append(resumed, string(h.Peek("Last-Event-ID")))
				mu.Unlock()
			}
			next(ctx)
		}
	})
	ts := &testServer{Server: s, addr: servetest.Loopback(t, s), t: t}
	proxy := startCutProxy(t, ts.addr)

	topic := strings.Repeat("é", MaxTopicLen/2) // every byte percent-encoded in a URL
	var ids []string
	for _, d := range []string{"one", "two", "three"} {
		ids = append(ids, ts.publish(Event{Topic: topic, Data: []byte(d)})...)
	}

	br, err := headless.Start(ctx, path, t.TempDir())
	if err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(br.Close)
	page, err := br.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	shows := func(what string, want []string) {
		t.Helper()
		var v pageView
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := page.Eval(ctx, pageViewJS, &v)
			if err == nil && v.State == "open" && strings.Join(v.ids(), " ") == strings.Join(want, " ") {
				return
			}
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s: the page shows (error %v):\n%s\nwant ids %v; requests refused: 414 %v, 431 %v; /events heads %v bytes (limit %d)",
					what, err, v, want, ts.metric(mRequestsRejected+`{reason="`+rejURLTooLong+`"}`),
					ts.metric(mRequestsRejected+`{reason="`+rejHeaderTooLarge+`"}`), heads, MinHeaderBytes)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The first connection resumes after the first event, through the URL.
	q := url.Values{"topic": {topic}, "lastEventId": {ids[0]}}
	if err := page.Navigate(ctx, "http://"+proxy.addr()+"/?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	shows("the first connection resumes", ids[1:])

	// The connection drops; EventSource reconnects with Last-Event-ID.
	proxy.pause()
	proxy.cutAll()
	missed := ts.publish(Event{Topic: topic, Data: []byte("four")}, Event{Topic: topic, Data: []byte("five")})
	proxy.resume()
	shows("the reconnection resumes", append(ids[1:], missed...))

	mu.Lock()
	defer mu.Unlock()
	if len(resumed) < 2 || resumed[len(resumed)-1] != ids[2] {
		t.Fatalf("the reconnection sent Last-Event-ID %q; want %q", resumed, ids[2])
	}
	largest := 0
	for _, n := range heads {
		largest = max(largest, n)
	}
	t.Logf("Chromium's largest /events head: %d bytes; the limit %d", largest, MinHeaderBytes)
}

// browserOrSkip returns Chromium's path, or skips the test saying why; with
// RINGCAST_REQUIRE_BROWSER set (.ci/run sets it) a missing browser fails it.
func browserOrSkip(t *testing.T) string {
	t.Helper()
	path, err := headless.Find()
	if err != nil {
		if r := os.Getenv("RINGCAST_REQUIRE_BROWSER"); r != "" && r != "0" && r != "false" {
			t.Fatalf("RINGCAST_REQUIRE_BROWSER is set, but: %v", err)
		}
		t.Skipf("skipping the real-browser test: %v (RINGCAST_REQUIRE_BROWSER=1 makes this a failure)", err)
	}
	return path
}
