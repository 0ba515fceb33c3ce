package transport

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringcast/ringcast/internal/ssespec"
	"github.com/ringcast/ringcast/transport/internal/eventid"
)

// ids returns the sequences of evs, as "5 6 7".
func seqs(t *testing.T, evs []ssespec.Event) string {
	t.Helper()
	var out []string
	for _, e := range evs {
		if e.Type == "lagged" || e.Type == "reset" {
			out = append(out, e.Type)
			continue
		}
		out = append(out, strconv.FormatUint(seqOf(t, e.LastEventID), 10))
	}
	return strings.Join(out, " ")
}

// publishPattern publishes one event per topic letter of pattern ("abab").
func publishPattern(ts *testServer, pattern string) {
	for i, c := range pattern {
		ts.publish(Event{Topic: string(c), Data: []byte(string(c) + strconv.Itoa(i+1))})
	}
}

func TestResumeInsideWindow(t *testing.T) {
	ts := startServer(t, Config{Capacity: 64, TopicCapacity: 64})
	publishPattern(ts, "ababababab") // seq 1..10; a is odd, b even
	cases := []struct {
		name   string
		path   string
		lastID string
		query  bool
		want   string // replayed, then the live event 11 (topic a) or 12 (topic b) where selected
	}{
		{"all topics", eventsPath(), "test-4", false, "5 6 7 8 9 10 11 12"},
		{"all topics by query", eventsPath() + "?lastEventId=test-4", "", true, "5 6 7 8 9 10 11 12"},
		{"one topic", eventsPath("a"), "test-3", false, "5 7 9 11"},
		{"one topic, id of another topic", eventsPath("a"), "test-4", false, "5 7 9 11"},
		{"one topic, up to date", eventsPath("b"), "test-10", false, "12"},
		{"several topics", eventsPath("a", "b"), "test-7", false, "8 9 10 11 12"},
		{"all topics, up to date", eventsPath(), "test-10", false, "11 12"},
		// An id as the stream sends it, with its topic: the topic is
		// informative, only the position counts.
		{"all topics, id with its topic", eventsPath(), "test-4/b", false, "5 6 7 8 9 10 11 12"},
		{"one topic, id naming another topic", eventsPath("a"), "test-3/zzz", false, "5 7 9 11"},
		{"several topics, id with a topic by query", eventsPath("a", "b") + "&lastEventId=test-7%2Fa", "", true, "8 9 10 11 12"},
	}
	var clients []*sseClient
	for _, tc := range cases {
		c := dial(t, ts.addr, tc.path, dialOpt{lastID: tc.lastID})
		clients = append(clients, c)
	}
	waitFor(t, "streams", 5*time.Second, func() bool { return ts.nStreams.Load() == int64(len(cases)) })
	ts.publish(Event{Topic: "a", Data: []byte("a11")}, Event{Topic: "b", Data: []byte("b12")})
	for i, tc := range cases {
		n := len(strings.Fields(tc.want))
		evs := clients[i].next(n, 5*time.Second)
		if got := seqs(t, evs); got != tc.want {
			t.Errorf("%s: got %s; want %s", tc.name, got, tc.want)
		}
		clients[i].expectNothing(20 * time.Millisecond)
	}
	if got := ts.metric("ringcast_replayed_events_total"); got != 6+6+3+3+3+6+3+3 {
		t.Errorf("replayed = %v; want 33", got)
	}
	if got := ts.metric(`ringcast_resets_total{reason="too-old"}`); got != 0 {
		t.Errorf("too-old resets = %v", got)
	}
}

// TestResumeLongestID resumes with ids that carry the longest topic (256
// bytes, multi-byte runes), as a header and as a query parameter under the
// default limits, and checks that the guard admits an id of eventid.MaxLen
// bytes even at the smallest --max-header-bytes.
func TestResumeLongestID(t *testing.T) {
	for _, engine := range []Engine{EngineRing, EngineChan} {
		t.Run(string(engine), func(t *testing.T) {
			ts := startServer(t, Config{Engine: engine})
			topic := strings.Repeat("€", 85) + "a"
			if len(topic) != MaxTopicLen {
				t.Fatalf("topic of %d bytes", len(topic))
			}
			first := ts.publish(Event{Topic: topic, Data: []byte("1")})[0]
			if first != "test-1/"+topic {
				t.Fatalf("id %q; want test-1/<topic>", first)
			}
			byHeader := dial(t, ts.addr, eventsPath(topic), dialOpt{lastID: first})
			byQuery := dial(t, ts.addr, eventsPath(topic)+"&lastEventId="+url.QueryEscape(first), dialOpt{})
			waitFor(t, "streams", 5*time.Second, func() bool { return ts.nStreams.Load() == 2 })
			second := ts.publish(Event{Topic: topic, Data: []byte("2")})[0]
			for _, c := range []*sseClient{byHeader, byQuery} {
				if c.status() != 200 {
					t.Fatalf("resume: %s", c.Head)
				}
				evs := c.next(1, 5*time.Second)
				if evs[0].LastEventID != second || evs[0].Data != "2" {
					t.Fatalf("after %s: %s; want only %s", first, fmtEvents(evs), second)
				}
				c.expectNothing(20 * time.Millisecond)
			}
		})
	}

	ts := startServer(t, Config{MaxHeaderBytes: MinHeaderBytes, Epoch: strings.Repeat("e", eventid.MaxEpochLen)})
	longest := eventid.Format(ts.Config().Epoch, 1<<64-1, strings.Repeat("x", MaxTopicLen))
	if len(longest) != eventid.MaxLen {
		t.Fatalf("%d bytes; want %d", len(longest), eventid.MaxLen)
	}
	c := dial(t, ts.addr, eventsPath(strings.Repeat("x", MaxTopicLen)), dialOpt{lastID: longest})
	if c.status() != 200 {
		t.Fatalf("the longest id at the smallest --max-header-bytes: %s", c.Head)
	}
	// Never issued by this server: a reset that quotes it whole.
	ev := c.next(1, 5*time.Second)[0]
	if n := decodeNotice(t, ev); ev.Type != "reset" || n.Reason != resetMalformed || n.LastEventID != longest {
		t.Fatalf("the longest id: %s %q; want a malformed reset quoting it whole", ev.Type, ev.Data)
	}
}

func TestResumeOutsideWindow(t *testing.T) {
	// Global ring 8, topic rings 4: topic a's ring forgets sooner than the
	// global ring, which then serves the replay, filtered. A ring holds at
	// least its capacity (more, depending on its pages), so the windows are
	// read from the rings rather than assumed.
	ts := startServer(t, Config{Capacity: 8, TopicCapacity: 4})
	publishPattern(ts, strings.Repeat("a", 24)) // 1..24
	e := ts.eng.(*ringEngine)
	gOld := e.global.Oldest()
	aOld := e.topics["a"].ring.Oldest() // topicSeq == seq here: a is the only topic
	if !(gOld > 4 && aOld > gOld+2 && aOld < 23) {
		t.Fatalf("windows: global from %d, topic a from %d; the cases below need 4 < global < topic-2 < 21", gOld, aOld)
	}
	id := func(seq uint64) string { return "test-" + strconv.FormatUint(seq, 10) }
	live := "25"
	type want struct {
		events string
		reason string // of the reset that comes first, "" for none
		missed string // "null" or a number
	}
	cases := []struct {
		name, path, lastID string
		want               want
	}{
		{"all topics, too old", eventsPath(), id(gOld - 2), want{"reset " + live, resetTooOld, strconv.FormatUint(24-(gOld-2), 10)}},
		{"all topics, just inside", eventsPath(), id(gOld - 1), want{seqRange(int(gOld), 25), "", ""}},
		{"one topic, from the global ring", eventsPath("a"), id(aOld - 2), want{seqRange(int(aOld-1), 25), "", ""}},
		{"one topic, from its ring", eventsPath("a"), id(aOld), want{seqRange(int(aOld+1), 25), "", ""}},
		{"one topic, too old", eventsPath("a"), id(gOld - 2), want{"reset " + live, resetTooOld, "null"}},
		{"several topics, too old", eventsPath("a", "z"), "test-1", want{"reset " + live, resetTooOld, "null"}},
		{"another epoch", eventsPath(), "zzz-5", want{"reset " + live, resetEpoch, "null"}},
		{"malformed", eventsPath("a"), "5", want{"reset " + live, resetMalformed, "null"}},
		{"never issued", eventsPath(), "test-99", want{"reset " + live, resetMalformed, "null"}},
	}
	// Each client reads its replay before the live event is published: a
	// ring drops a whole page at a time, so publishing 25 could overrun a
	// replay that starts in the oldest page.
	var clients []*sseClient
	var got []string
	for _, tc := range cases {
		c := dial(t, ts.addr, tc.path, dialOpt{lastID: tc.lastID})
		clients = append(clients, c)
		got = append(got, seqs(t, c.next(len(strings.Fields(tc.want.events))-1, 5*time.Second)))
	}
	ts.publish(Event{Topic: "a", Data: []byte("a25")})
	for i, tc := range cases {
		evs := clients[i].next(1, 5*time.Second)
		if got := strings.TrimSpace(got[i] + " " + seqs(t, evs)); got != tc.want.events {
			t.Errorf("%s: got %s; want %s", tc.name, got, tc.want.events)
			continue
		}
		clients[i].expectNothing(20 * time.Millisecond)
		if tc.want.reason == "" {
			continue
		}
		n := decodeNotice(t, clients[i].first)
		missed := "null"
		if n.Missed != nil {
			missed = strconv.FormatInt(*n.Missed, 10)
		}
		// A reset carries no id line: the client's last event id stays
		// what it was (here, on a fresh parser, empty) until the next event.
		if n.Reason != tc.want.reason || n.LastEventID != tc.lastID || missed != tc.want.missed || clients[i].first.LastEventID != "" {
			t.Errorf("%s: reset %+v (missed %s, last id now %q); want reason %s, missed %s, no id",
				tc.name, n, missed, clients[i].first.LastEventID, tc.want.reason, tc.want.missed)
		}
	}
}

func TestResumeChanEngine(t *testing.T) {
	ts := startServer(t, Config{Engine: EngineChan})
	publishPattern(ts, "aaaa")
	up := dial(t, ts.addr, eventsPath(), dialOpt{lastID: "test-4"})
	old := dial(t, ts.addr, eventsPath(), dialOpt{lastID: "test-1"})
	oldTopic := dial(t, ts.addr, eventsPath("a"), dialOpt{lastID: "test-1"})
	waitFor(t, "streams", 5*time.Second, func() bool { return ts.nStreams.Load() == 3 })
	ts.publish(Event{Topic: "a"})
	if got := seqs(t, up.next(1, 5*time.Second)); got != "5" {
		t.Errorf("up to date: %s", got)
	}
	evs := old.next(2, 5*time.Second)
	if n := decodeNotice(t, evs[0]); seqs(t, evs) != "reset 5" || n.Missed == nil || *n.Missed != 3 {
		t.Errorf("behind, all topics: %s %+v; the chan engine keeps no history: reset, missed 3", seqs(t, evs), n)
	}
	evs = oldTopic.next(2, 5*time.Second)
	if n := decodeNotice(t, evs[0]); seqs(t, evs) != "reset 5" || n.Missed != nil {
		t.Errorf("behind, one topic: %s %+v; want reset with missed null", seqs(t, evs), n)
	}
}

// lagSetup connects a client, then holds it still after its first event so
// that the test can overrun it by exactly as much as it likes.
func lagSetup(t *testing.T, cfg Config, path string, topic string) (*testServer, *gate, *sseClient) {
	t.Helper()
	ts := startServer(t, cfg)
	g := newGate(ts.Server)
	c := dial(t, ts.addr, path, dialOpt{})
	waitFor(t, "stream", 5*time.Second, func() bool { return ts.nStreams.Load() == 1 })
	g.close()
	ts.publish(Event{Topic: topic, Data: []byte("first")})
	if got := c.next(1, 5*time.Second)[0].Data; got != "first" {
		t.Fatalf("first event %q", got)
	}
	// The stream wrote "first" and is now held at the gate, before its next read.
	return ts, g, c
}

// overrun describes what a held client must see once released: for each
// event still held (seq >= oldest) of its topics, in order, preceded, for the
// first of each topic after the gap, by "lagged" when that topic lost some.
// topics "" means all (one notice, before everything). published maps each
// seq from 2 on to its topic (seq 1 was delivered before the hold).
func overrun(topics string, published string, oldest uint64, perTopic bool) (want string, skipped map[string]uint64) {
	skipped = map[string]uint64{}
	var out []string
	noticed := map[string]bool{}
	for i, c := range published {
		seq := uint64(i + 2)
		topic := string(c)
		if topics != "" && !strings.Contains(topics, topic) {
			continue
		}
		key := topic
		if !perTopic {
			key = ""
		}
		if seq < oldest {
			skipped[key]++
			continue
		}
		if !noticed[key] && skipped[key] > 0 {
			out = append(out, "lagged")
		}
		noticed[key] = true
		out = append(out, strconv.FormatUint(seq, 10))
	}
	return strings.Join(out, " "), skipped
}

func TestLagDropOldest(t *testing.T) {
	cases := []struct {
		name     string
		cfg      Config
		topics   []string
		pattern  string // topics of seq 2, 3, ...
		perTopic bool   // a filtered reader: one notice per topic, before its next event
	}{
		{"all topics", Config{Capacity: 16}, nil, strings.Repeat("a", 40), false},
		// The topic's ring (8) and the global ring (16) both forget: the
		// count comes from the topic's ring.
		{"one topic", Config{Capacity: 16, TopicCapacity: 8}, []string{"a"}, strings.Repeat("ba", 30) + "bbbbba", false},
		{"several topics", Config{Capacity: 16}, []string{"a", "c"}, strings.Repeat("bca", 20), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts, g, c := lagSetup(t, tc.cfg, eventsPath(tc.topics...), "a")
			publishPattern(ts, tc.pattern)
			e := ts.eng.(*ringEngine)
			oldest := e.global.Oldest()
			if len(tc.topics) == 1 {
				// The topic ring's window, in global seqs: its oldest frame.
				r := e.topics["a"].ring
				oldest = peek(r, r.Oldest()).seq
				if e.global.Oldest() <= 2 {
					t.Fatalf("the global ring still holds everything: no loss to count")
				}
			}
			want, skipped := overrun(strings.Join(tc.topics, ""), tc.pattern, oldest, tc.perTopic)
			var total uint64
			for _, n := range skipped {
				total += n
			}
			if total == 0 {
				t.Fatalf("the pattern does not overrun the ring (oldest %d)", oldest)
			}
			g.release()
			evs := c.next(len(strings.Fields(want)), 5*time.Second)
			if got := seqs(t, evs); got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			// Each notice carries exactly what its topic (or the stream) lost.
			var counted uint64
			for i, ev := range evs {
				if ev.Type != "lagged" {
					continue
				}
				n := *decodeNotice(t, ev).Skipped
				key := ""
				if tc.perTopic {
					key = string(tc.pattern[seqOf(t, evs[i+1].LastEventID)-2])
				}
				if n != skipped[key] {
					t.Errorf("notice before %s says %d skipped; want %d", evs[i+1].LastEventID, n, skipped[key])
				}
				counted += n
			}
			c.expectNothing(20 * time.Millisecond)
			if got := ts.metric("ringcast_lagged_events_total"); got != float64(counted) || ts.metric("ringcast_lagged_clients_total") != 1 {
				t.Errorf("lag metrics: events %v (want %d), clients %v", got, counted, ts.metric("ringcast_lagged_clients_total"))
			}
		})
	}
}

func seqRange(from, to int) string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return strings.Join(out, " ")
}

func TestLagDisconnect(t *testing.T) {
	t.Run("let go before loss, resume is exact", func(t *testing.T) {
		ts, g, c := lagSetup(t, Config{Capacity: 16, SlowClient: Disconnect}, eventsPath(), "a")
		ts.publishN("a", 13, "") // lag 13 > 12 = 3/4 of the ring: let go, nothing lost yet
		g.release()
		if ended, evs := c.readToEnd(5 * time.Second); !ended || len(evs) != 0 {
			t.Fatalf("stream: ended cleanly %v, events %s; want a clean end and no events", ended, fmtEvents(evs))
		}
		// The client sees the end before the server has counted it: wait.
		waitFor(t, "the slow-client disconnect to be counted", 5*time.Second, func() bool {
			return ts.metric(`ringcast_disconnects_total{reason="slow-client"}`) == 1
		})
		r := dial(t, ts.addr, eventsPath(), dialOpt{lastID: "test-1"})
		if got := seqs(t, r.next(13, 5*time.Second)); got != seqRange(2, 14) {
			t.Fatalf("resume after the disconnect: %s", got)
		}
	})
	t.Run("overrun", func(t *testing.T) {
		ts, g, c := lagSetup(t, Config{Capacity: 16, TopicCapacity: 16, SlowClient: Disconnect}, eventsPath("a"), "a")
		ts.publishN("a", 40, "")
		g.release()
		if ended, evs := c.readToEnd(5 * time.Second); !ended || len(evs) != 0 {
			t.Fatalf("stream: ended cleanly %v, events %s", ended, fmtEvents(evs))
		}
		r := dial(t, ts.addr, eventsPath(), dialOpt{lastID: "test-1"})
		ts.publish(Event{Topic: "a"})
		evs := r.next(2, 5*time.Second)
		if n := decodeNotice(t, evs[0]); evs[0].Type != "reset" || *n.Missed != 40 {
			t.Fatalf("resume after an overrun: %s; want a reset, missed 40", fmtEvents(evs))
		}
	})
}

// TestTopicRingFallback: a single-topic client that falls behind its topic's
// small ring continues from the global ring without loss, then goes back to
// its topic's ring once it has caught up.
func TestTopicRingFallback(t *testing.T) {
	ts, g, c := lagSetup(t, Config{Capacity: 1024, TopicCapacity: 8}, eventsPath("a"), "a")
	pattern := strings.Repeat("ab", 20) // a at 2,4,..,40: 20 events, far more than its ring holds
	publishPattern(ts, pattern)
	g.release()
	want, _ := overrun("a", pattern, 1, false)
	if got := seqs(t, c.next(20, 5*time.Second)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := ts.metric("ringcast_topic_fallbacks_total"); got != 1 {
		t.Fatalf("fallbacks = %v; want 1", got)
	}
	e := ts.eng.(*ringEngine)
	waitFor(t, "the reader back on the topic's ring", 5*time.Second, func() bool {
		return e.topics["a"].ring.Readers() == 1 && e.global.Readers() == 0
	})
	publishPattern(ts, "bab") // seq 42..44: a at 43
	if got := seqs(t, c.next(1, 5*time.Second)); got != "43" {
		t.Fatalf("after the promotion: %s", got)
	}
	c.expectNothing(20 * time.Millisecond)
	if ts.metric("ringcast_lagged_events_total") != 0 {
		t.Fatalf("events counted as lost")
	}
}
