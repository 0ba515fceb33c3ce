package transport

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ringcast/ringcast/internal/ssespec"
)

// TestStreamBytes checks the response head and the stream byte for byte,
// with payloads holding every kind of line break.
func TestStreamBytes(t *testing.T) {
	ts := startServer(t, Config{Retry: 1500 * time.Millisecond})
	c := dial(t, ts.addr, "/events", dialOpt{})
	for _, h := range []string{
		"HTTP/1.1 200 OK\r\n",
		"\r\nContent-Type: text/event-stream; charset=utf-8\r\n",
		"\r\nCache-Control: no-cache\r\n",
		"\r\nX-Accel-Buffering: no\r\n",
		"\r\nTransfer-Encoding: chunked\r\n",
	} {
		if !strings.Contains(c.Head, h) {
			t.Errorf("response head lacks %q:\n%s", h, c.Head)
		}
	}
	if strings.Contains(c.Head, "Access-Control-Allow-Origin") {
		t.Errorf("CORS header without configured origins:\n%s", c.Head)
	}
	if got := string(c.readBytes(len("retry: 1500\n\n"), 5*time.Second)); got != "retry: 1500\n\n" {
		t.Fatalf("first frame %q; want the retry frame", got)
	}

	// Over HTTP, as a publisher would: JSON strings are sent as their text,
	// anything else as compact JSON.
	bodies := []struct{ json, want string }{
		{`{"topic":"t","data":"plain"}`, "id: test-1/t\ndata: plain\n\n"},
		{`{"topic":"t","event":"upd","data":"a\nb"}`, "id: test-2/t\nevent: upd\ndata: a\ndata: b\n\n"},
		{`{"topic":"t","data":"a\rb"}`, "id: test-3/t\ndata: a\ndata: b\n\n"},
		{`{"topic":"t","data":"a\r\nb"}`, "id: test-4/t\ndata: a\ndata: b\n\n"},
		{`{"topic":"t","data":"x\n\r\n\ry\n"}`, "id: test-5/t\ndata: x\ndata: \ndata: \ndata: y\ndata: \n\n"},
		{`{"topic":"t","data":""}`, "id: test-6/t\ndata: \n\n"},
		{`{"topic":"t"}`, "id: test-7/t\ndata: \n\n"},
		{`{"topic":"t","data": {"b": [1, 2], "s": "x\ny"} }`, "id: test-8/t\ndata: {\"b\":[1,2],\"s\":\"x\\ny\"}\n\n"},
		{`{"topic":"t","data":null}`, "id: test-9/t\ndata: null\n\n"},
		{`{"topic":"t","data":"  spaced"}`, "id: test-10/t\ndata:   spaced\n\n"},
		{`{"topic":"t","data":"nul\u0000byte"}`, "id: test-11/t\ndata: nul\x00byte\n\n"},
		// The id ends with the topic, whatever it holds but control characters.
		{`{"topic":"news/sports \"x\" \\ü\u2028","data":"y"}`, "id: test-12/news/sports \"x\" \\ü\u2028\ndata: y\n\n"},
		{`{"topic":"` + strings.Repeat("€", 85) + `a","data":"z"}`, "id: test-13/" + strings.Repeat("€", 85) + "a\ndata: z\n\n"},
	}
	var want strings.Builder
	for _, b := range bodies {
		code, resp := ts.post("application/json", b.json)
		var answer struct{ IDs []string }
		if err := json.Unmarshal([]byte(resp), &answer); code != 200 || err != nil || len(answer.IDs) != 1 {
			t.Fatalf("POST %s: %d %s (%v)", b.json, code, resp, err)
		}
		// The answer names the id the stream carries.
		if id := answer.IDs[0]; !strings.HasPrefix(b.want, "id: "+id+"\n") {
			t.Fatalf("POST %s answered id %q; the stream will carry %q", b.json, id, b.want)
		}
		want.WriteString(b.want)
	}
	if got := string(c.readBytes(want.Len(), 5*time.Second)); got != want.String() {
		t.Fatalf("stream bytes:\n got %q\nwant %q", got, want.String())
	}
	// What EventSource would make of it.
	evs, _ := ssespec.Parse([]byte(want.String()))
	if evs[1].Type != "upd" || evs[1].Data != "a\nb" || evs[4].Data != "x\n\n\ny\n" || evs[0].Type != "message" ||
		evs[11].LastEventID != "test-12/news/sports \"x\" \\ü\u2028" {
		t.Fatalf("parsed: %s", fmtEvents(evs))
	}
}

func TestKeepAliveAndHTTP10(t *testing.T) {
	ts := startServer(t, Config{KeepAlive: 40 * time.Millisecond})
	c := dial(t, ts.addr, "/events", dialOpt{proto: "HTTP/1.0"})
	if !strings.HasPrefix(c.Head, "HTTP/1.0 200 OK\r\n") || c.chunked || !strings.Contains(c.Head, "Connection: close\r\n") {
		t.Fatalf("HTTP/1.0 head:\n%s", c.Head)
	}
	got := string(c.readBytes(len("retry: 3000\n\n: keep-alive\n\n"), 5*time.Second))
	if got != "retry: 3000\n\n: keep-alive\n\n" {
		t.Fatalf("got %q; want the retry frame, then a keep-alive comment", got)
	}
	ts.publish(Event{Topic: "a", Data: []byte("x")})
	var evs []string
	for _, e := range c.next(1, 5*time.Second) {
		evs = append(evs, e.LastEventID+" "+e.Data)
	}
	if evs[0] != "test-1/a x" {
		t.Fatalf("event %v", evs)
	}
}

func TestHeadAndCORS(t *testing.T) {
	ts := startServer(t, Config{CORSOrigins: []string{"https://app.example"}})
	c := dial(t, ts.addr, "/events", dialOpt{method: "HEAD", header: []string{"Origin", "https://app.example"}})
	if c.status() != 200 || !strings.Contains(c.Head, "Access-Control-Allow-Origin: https://app.example\r\n") || !strings.Contains(c.Head, "Vary: Origin\r\n") {
		t.Fatalf("HEAD with an allowed origin:\n%s", c.Head)
	}
	if ended, _ := c.readToEnd(5 * time.Second); ended {
		t.Fatalf("HEAD must carry no body")
	}
	c = dial(t, ts.addr, "/events", dialOpt{header: []string{"Origin", "https://evil.example"}})
	if strings.Contains(c.Head, "Access-Control-Allow-Origin") {
		t.Fatalf("CORS header for an origin not configured:\n%s", c.Head)
	}
}

func TestSubscribeRejects(t *testing.T) {
	ts := startServer(t, Config{MaxTopics: 2})
	for _, tc := range []struct{ path, want string }{
		{"/events?topic=", "empty"},
		{"/events?topic=a%0Ab", "control"},
		{"/events?topic=a&topic=b&topic=c", "limit is 2"},
	} {
		c := dial(t, ts.addr, tc.path, dialOpt{header: []string{"Connection", "close"}})
		_, _ = c.readToEnd(5 * time.Second)
		if c.status() != 400 || !strings.Contains(c.raw.String(), tc.want) {
			t.Errorf("%s: %d %s; want 400 mentioning %q", tc.path, c.status(), c.raw.String(), tc.want)
		}
	}
	c := dial(t, ts.addr, "/events", dialOpt{method: "POST"})
	if c.status() != 405 {
		t.Errorf("POST /events: %d", c.status())
	}
	// Duplicated topics count once.
	c = dial(t, ts.addr, "/events?topic=a&topic=a&topic=b", dialOpt{})
	if c.status() != 200 {
		t.Errorf("duplicate topics: %d", c.status())
	}
}

func TestTopicsFilter(t *testing.T) {
	for _, engine := range []Engine{EngineRing, EngineChan} {
		t.Run(string(engine), func(t *testing.T) {
			ts := startServer(t, Config{Engine: engine})
			all := dial(t, ts.addr, eventsPath(), dialOpt{})
			one := dial(t, ts.addr, eventsPath("a"), dialOpt{})
			two := dial(t, ts.addr, eventsPath("a", "c"), dialOpt{})
			waitFor(t, "3 streams", 5*time.Second, func() bool { return ts.nStreams.Load() == 3 })
			for i, topic := range []string{"a", "b", "c", "a", "b", "c"} {
				ts.publish(Event{Topic: topic, Data: []byte(topic + string(rune('0'+i)))})
			}
			check := func(c *sseClient, want string) {
				t.Helper()
				n := len(strings.Fields(want))
				var got []string
				for _, e := range c.next(n, 5*time.Second) {
					got = append(got, e.Data)
					// Each id names its event's topic, the first
					// letter of its data: a client of several topics
					// tells them apart.
					if _, topic, _ := strings.Cut(e.LastEventID, "/"); topic != e.Data[:1] {
						t.Errorf("event %q has id %q; want it to end in /%s", e.Data, e.LastEventID, e.Data[:1])
					}
				}
				if strings.Join(got, " ") != want {
					t.Errorf("got %v; want %s", got, want)
				}
			}
			check(all, "a0 b1 c2 a3 b4 c5")
			check(one, "a0 a3")
			check(two, "a0 c2 a3 c5")
		})
	}
}
