package transport

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringcast/ringcast/internal/ssespec"
)

// jwtServer starts a server that verifies HS256 tokens with the test
// secret.
func jwtServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	cfg.JWTSecret = testKeys().secret
	return startServer(t, cfg)
}

// bearer is the header option of dial for token.
func bearer(token string) dialOpt {
	return dialOpt{header: []string{"Authorization", "Bearer " + token}}
}

// topicOf returns the topic at the end of an event id.
func topicOf(id string) string { return id[strings.IndexByte(id, '/')+1:] }

// TestGrantNeverLeaks is the property of per-client grants: whatever a
// client's claim and request, it receives exactly the events of the topics
// both allow, in order, never one more (A1, A2), live and on resume.
// Claims, requests and publishes are random over topics chosen to sit on
// the patterns' boundaries; the seed is logged.
func TestGrantNeverLeaks(t *testing.T) {
	for _, engine := range []Engine{EngineRing, EngineChan} {
		t.Run(string(engine), func(t *testing.T) {
			for round := range 3 { // a fresh server, clients and claims each round
				seed := time.Now().UnixNano()
				t.Logf("round %d: seed %d", round, seed)
				testGrantNeverLeaks(t, engine, rand.New(rand.NewPCG(uint64(seed), 16)))
			}
		})
	}
}

func testGrantNeverLeaks(t *testing.T, engine Engine, rng *rand.Rand) {
	const fence = "fence" // every claim and request has it: the end of a round
	topics := []string{"user.4", "user.42", "user.420", "user.42.x", "team.7", "team.7.a", "team.7.b.c",
		"team.70.a", "team.", "teams", "t", "a*b", "axb", "other", "é.1", "è.1"}
	patterns := []string{"team.7.*", "team.*", "user.4*", "user.42.*", "é.*", "t*", "a*b"}
	ts := jwtServer(t, Config{Engine: engine, MaxTopicRings: 4}) // some topics on the global ring, filtered

	// Phase 1: some topics exist before anyone subscribes (the ring
	// engine's pattern selections take the existing ones at subscribe).
	for _, topic := range topics[:len(topics)/2] {
		ts.publish(Event{Topic: topic, Data: []byte("before")})
	}

	type client struct {
		claim   []string
		request []string // nil: all the claim allows
		follows func(string) bool
		c       *sseClient
		got     []ssespec.Event
	}
	var clients []*client
	for i := range 14 {
		var claim []string
		for _, p := range append(slices.Clone(topics), patterns...) {
			if rng.IntN(4) == 0 {
				claim = append(claim, p)
			}
		}
		claim = append(claim, fence)
		g, err := parseTopicGrant(claim)
		if err != nil {
			t.Fatal(err)
		}
		cl := &client{claim: claim}
		if i%2 == 1 { // a request for some of the allowed topics
			for _, topic := range topics {
				if g.allows(topic) && rng.IntN(2) == 0 {
					cl.request = append(cl.request, topic)
				}
			}
			cl.request = append(cl.request, fence)
			cl.follows = func(topic string) bool { return slices.Contains(cl.request, topic) }
		} else {
			cl.follows = g.allows
		}
		token := hsToken(t, time.Hour, claim, nil)
		opt := bearer(token)
		path := eventsPath(cl.request...)
		switch i % 3 { // every way a token travels
		case 1:
			opt = dialOpt{header: []string{"Cookie", subscribeCookie + "=" + url.QueryEscape(token)}}
		case 2:
			opt = dialOpt{}
			path += map[bool]string{true: "&", false: "?"}[strings.Contains(path, "?")] + "token=" + token
		}
		cl.c = dial(t, ts.addr, path, opt)
		if cl.c.status() != 200 {
			t.Fatalf("client %d (claim %q, request %q): status %d", i, claim, cl.request, cl.c.status())
		}
		cl.c.next(0, time.Second)
		clients = append(clients, cl)
	}
	waitFor(t, "every stream", 5*time.Second, func() bool { return ts.nStreams.Load() == int64(len(clients)) })

	// Phase 2: events to every topic, in random batches.
	var published []Event
	for len(published) < 400 {
		batch := make([]Event, 1+rng.IntN(5))
		for j := range batch {
			batch[j] = Event{Topic: topics[rng.IntN(len(topics))], Data: []byte(fmt.Sprint(len(published) + j))}
		}
		ts.publish(batch...)
		published = append(published, batch...)
	}
	ts.publish(Event{Topic: fence, Data: []byte("end")})

	want := func(cl *client, after int) []string {
		var w []string
		for _, ev := range published[after:] {
			if cl.follows(ev.Topic) {
				w = append(w, ev.Topic+" "+string(ev.Data))
			}
		}
		return append(w, fence+" end")
	}
	read := func(c *sseClient) []ssespec.Event {
		var evs []ssespec.Event
		for {
			ev := c.next(1, 10*time.Second)[0]
			if ev.Type != "message" {
				t.Fatalf("notice %s %q: no event may be lost here", ev.Type, ev.Data)
			}
			evs = append(evs, ev)
			if topicOf(ev.LastEventID) == fence {
				return evs
			}
		}
	}
	got := func(evs []ssespec.Event) []string {
		var g []string
		for _, ev := range evs {
			g = append(g, topicOf(ev.LastEventID)+" "+ev.Data)
		}
		return g
	}
	for i, cl := range clients {
		cl.got = read(cl.c)
		if g, w := got(cl.got), want(cl, 0); !slices.Equal(g, w) {
			t.Errorf("client %d (claim %q, request %q):\n got %q\nwant %q", i, cl.claim, cl.request, g, w)
		}
	}

	// Resume: from the middle of what each received, by Last-Event-ID, as
	// EventSource reconnects. The ring engine replays, filtered by the same
	// grant; the chan engine holds no history and says so.
	for i, cl := range clients {
		if len(cl.got) < 2 {
			continue
		}
		k := rng.IntN(len(cl.got) - 1)
		token := hsToken(t, time.Hour, cl.claim, nil)
		opt := bearer(token)
		opt.lastID = cl.got[k].LastEventID
		c := dial(t, ts.addr, eventsPath(cl.request...), opt)
		if c.status() != 200 {
			t.Fatalf("resume %d: status %d", i, c.status())
		}
		if engine == EngineChan {
			if ev := c.next(1, 5*time.Second)[0]; ev.Type != EventReset {
				t.Fatalf("resume %d on chan: %s, want a reset", i, ev.Type)
			}
			continue
		}
		after := 0
		fmt.Sscan(cl.got[k].Data, &after)
		if g, w := got(read(c)), want(cl, after+1); !slices.Equal(g, w) {
			t.Errorf("resume %d (claim %q, request %q) after %q:\n got %q\nwant %q", i, cl.claim, cl.request, cl.got[k].Data, g, w)
		}
	}
}

// TestSubscribeForbiddenTopic: a topic outside the claim is 403 naming it,
// before any stream starts; so is a claim that grants nothing.
func TestSubscribeForbiddenTopic(t *testing.T) {
	ts := jwtServer(t, Config{})
	token := hsToken(t, time.Hour, []string{"team.7.*", "user.42"}, nil)
	for _, tc := range []struct {
		topics    []string
		forbidden string
	}{
		{[]string{"team.7.a", "team.70.a"}, "team.70.a"},
		{[]string{"user.420"}, "user.420"},
		{[]string{"team.7"}, "team.7"},
	} {
		c := dial(t, ts.addr, eventsPath(tc.topics...), bearer(token))
		if c.status() != 403 {
			t.Fatalf("%q: status %d; want 403", tc.topics, c.status())
		}
		body := string(c.readBytes(contentLength(t, c.Head), time.Second))
		if !strings.Contains(body, `"error":`) || !strings.Contains(body, `\"`+tc.forbidden+`\"`) {
			t.Errorf("%q: body %s; want a JSON error naming %q", tc.topics, body, tc.forbidden)
		}
	}
	nothing := hsToken(t, time.Hour, nil, []string{"a"})
	if c := dial(t, ts.addr, "/events", bearer(nothing)); c.status() != 403 {
		t.Errorf("a token that grants no subscription: status %d; want 403", c.status())
	}
	if n := ts.metric(`ringcast_token_rejected_total{op="subscribe",reason="forbidden-topic"}`); n != 4 {
		t.Errorf("forbidden-topic rejections: %v; want 4", n)
	}
	if ts.nStreams.Load() != 0 {
		t.Errorf("%d streams started", ts.nStreams.Load())
	}
}

func contentLength(t testing.TB, head string) int {
	for _, line := range strings.Split(head, "\r\n") {
		if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length: "); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	t.Fatalf("no Content-Length in %q", head)
	return 0
}

// TestTokenRejections: a bad token is 401 with the reason in the message
// and the metric; no stream starts.
func TestTokenRejections(t *testing.T) {
	ts := jwtServer(t, Config{})
	for _, tc := range []struct {
		name, token, reason string
	}{
		{"none", "", tokMissing},
		{"expired", hsToken(t, -time.Minute, []string{"*"}, nil), tokExpired},
		{"malformed", "not-a-jwt", tokMalformed},
		{"tampered", tamper(t, hsToken(t, time.Hour, []string{"a"}, nil), testClaims{Exp: time.Hour, Sub: []string{"*"}}.mapClaims(time.Now())), tokBadSignature},
	} {
		opt := dialOpt{}
		if tc.token != "" {
			opt = bearer(tc.token)
		}
		c := dial(t, ts.addr, "/events", opt)
		if c.status() != 401 || !strings.Contains(strings.ToLower(c.Head), "www-authenticate: bearer") {
			t.Errorf("%s: %q; want 401 with WWW-Authenticate", tc.name, c.Head)
		}
		if n := ts.metric(`ringcast_token_rejected_total{op="subscribe",reason="` + tc.reason + `"}`); n != 1 {
			t.Errorf("%s: metric %v; want 1", tc.name, n)
		}
	}
}

// TestStaticTokensBesideJWT: the static tokens keep working (every topic)
// when signed tokens are configured too.
func TestStaticTokensBesideJWT(t *testing.T) {
	ts := jwtServer(t, Config{SubscribeToken: "static-sub", PublishToken: "static-pub"})
	c := dial(t, ts.addr, "/events", bearer("static-sub"))
	if c.status() != 200 {
		t.Fatalf("static subscribe token: %d", c.status())
	}
	if code, body := ts.post("application/json", `{"topic":"anything","data":1}`, "Authorization", "Bearer static-pub"); code != 200 {
		t.Fatalf("static publish token: %d %s", code, body)
	}
	if ev := c.next(1, 5*time.Second)[0]; topicOf(ev.LastEventID) != "anything" {
		t.Fatalf("got %+v", ev)
	}
	if code, _ := ts.post("application/json", `{"topic":"anything","data":1}`, "Authorization", "Bearer static-sub"); code != 401 {
		t.Errorf("the subscribe token publishes: %d", code)
	}
}

// TestPublishGrant: the publish claim limits the topics; one forbidden line
// rejects the whole batch (403 naming the line), and nothing of it is
// published.
func TestPublishGrant(t *testing.T) {
	ts := jwtServer(t, Config{})
	sub := dial(t, ts.addr, "/events", bearer(hsToken(t, time.Hour, []string{"*"}, nil)))
	pub := "Bearer " + hsToken(t, time.Hour, nil, []string{"team.7.*"})

	batch := `{"topic":"team.7.a","data":1}` + "\n" + `{"topic":"team.70.a","data":2}` + "\n" + `{"topic":"team.7.b","data":3}`
	code, body := ts.post("application/x-ndjson", batch, "Authorization", pub)
	if code != 403 || !strings.Contains(body, "line 2") || !strings.Contains(body, `\"team.70.a\"`) {
		t.Fatalf("a batch with a forbidden line: %d %s; want 403 naming line 2 and its topic", code, body)
	}
	if code, body := ts.post("application/json", `{"topic":"user.1","data":1}`, "Authorization", pub); code != 403 || !strings.Contains(body, `\"user.1\"`) {
		t.Fatalf("a forbidden event: %d %s", code, body)
	}
	if code, body := ts.post("application/json", `{"topic":"x","data":1}`, "Authorization", "Bearer "+hsToken(t, -time.Hour, nil, []string{"*"})); code != 401 {
		t.Fatalf("an expired token: %d %s", code, body)
	}
	if code, body := ts.post("application/json", `{"topic":"x","data":1}`); code != 401 {
		t.Fatalf("no token (from loopback): %d %s; signed tokens make publishing need one", code, body)
	}
	if code, body := ts.post("application/x-ndjson", `{"topic":"team.7.ok","data":1}`, "Authorization", pub); code != 200 {
		t.Fatalf("an allowed event: %d %s", code, body)
	}
	if ev := sub.next(1, 5*time.Second)[0]; topicOf(ev.LastEventID) != "team.7.ok" {
		t.Fatalf("the first event delivered is %+v: part of a rejected batch went out", ev)
	}
	if n := ts.metric(`ringcast_token_rejected_total{op="publish",reason="forbidden-topic"}`); n != 2 {
		t.Errorf("publish forbidden-topic: %v; want 2", n)
	}
}

// TestStreamEndsAtTokenExpiry: a stream ends when its token does (exp plus
// the leeway), with "event: expired" first, and the response ends cleanly.
func TestStreamEndsAtTokenExpiry(t *testing.T) {
	for _, engine := range []Engine{EngineRing, EngineChan} {
		t.Run(string(engine), func(t *testing.T) {
			ts := startServer(t, Config{Engine: engine, KeepAlive: 100 * time.Millisecond,
				JWTSecret: testKeys().secret, JWTLeeway: -1})
			// exp has a precision of one second: 2s from now ends within (1s, 2s].
			token := hsToken(t, 2*time.Second, []string{"a"}, nil)
			c := dial(t, ts.addr, "/events", bearer(token))
			if c.status() != 200 {
				t.Fatalf("status %d", c.status())
			}
			start := time.Now()
			ts.publish(Event{Topic: "a", Data: []byte("live")})
			ended, evs := c.readToEnd(5 * time.Second)
			took := time.Since(start)
			if !ended {
				t.Fatalf("the stream did not end cleanly (events %s)", fmtEvents(evs))
			}
			if len(evs) != 2 || evs[0].Data != "live" || evs[1].Type != EventExpired {
				t.Fatalf("events %s; want the live event, then %q", fmtEvents(evs), EventExpired)
			}
			if took > 3*time.Second {
				t.Errorf("ended %v after connecting; the token lived at most 2s", took)
			}
			// The stream counts its end after closing the connection.
			waitFor(t, "the disconnect counted as token-expired", 5*time.Second, func() bool {
				return ts.metric(`ringcast_disconnects_total{reason="`+goneExpired+`"}`) == 1
			})
		})
	}
}
