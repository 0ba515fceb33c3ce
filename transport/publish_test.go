package transport

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestPublishHTTP(t *testing.T) {
	ts := startServer(t, Config{MaxEventBytes: 200, MaxBodyBytes: 1000})
	c := dial(t, ts.addr, "/events", dialOpt{})
	big := strings.Repeat("x", 300)
	cases := []struct {
		name, ctype, body string
		status            int
		want              string // in the error message
	}{
		{"malformed JSON", "application/json", `{"topic":`, 400, "malformed JSON"},
		{"not JSON", "application/json", `topic=a`, 400, "JSON object"},
		{"array", "application/json", `[{"topic":"a"}]`, 400, "application/x-ndjson"},
		{"missing topic", "application/json", `{"data":1}`, 400, `"topic" is missing`},
		{"empty topic", "application/json", `{"topic":"","data":1}`, 400, `"topic" is missing or empty`},
		{"topic not a string", "application/json", `{"topic":5}`, 400, `"topic" must be a string`},
		{"event with LF", "application/json", `{"topic":"a","event":"x\ny"}`, 400, `"event" must be one line`},
		{"event with CR", "application/json", `{"topic":"a","event":"x\ry"}`, 400, `"event" must be one line`},
		{"event with NUL", "application/json", `{"topic":"a","event":"x\u0000"}`, 400, `"event" must be one line`},
		{"reserved event", "application/json", `{"topic":"a","event":"reset"}`, 400, "reserved"},
		{"invalid UTF-8 in data", "application/json", "{\"topic\":\"a\",\"data\":\"\xff\"}", 400, "not valid UTF-8 at byte 22"},
		{"invalid UTF-8 in topic", "application/json", "{\"topic\":\"\xfe\"}", 400, "not valid UTF-8 at byte 11"},
		{"invalid UTF-8 on line 3", "application/x-ndjson", "{\"topic\":\"a\"}\n{\"topic\":\"b\"}\n{\"topic\":\"c\",\"event\":\"\xc3\"}", 400, "line 3: not valid UTF-8 at byte 23"},
		{"unknown field", "application/json", `{"topic":"a","dta":1}`, 400, `unknown field "dta"`},
		{"trailing data", "application/json", `{"topic":"a"} {"topic":"b"}`, 400, "after the JSON object"},
		{"empty body", "application/json", ``, 400, "empty"},
		{"empty batch", "application/x-ndjson", "\n\n", 400, "no events"},
		{"too large event", "application/json", `{"topic":"a","data":"` + big + `"}`, 413, "--max-event-bytes"},
		{"too large line", "application/x-ndjson", `{"topic":"a"}` + "\n" + `{"topic":"a","data":"` + big + `"}`, 413, "line 2"},
		{"too large body", "application/x-ndjson", strings.Repeat(`{"topic":"a"}`+"\n", 80), 413, "--max-body-bytes"},
		{"no content type", "", `{"topic":"a"}`, 415, "Content-Type"},
		{"wrong content type", "text/plain", `{"topic":"a"}`, 415, "application/x-ndjson"},
	}
	for _, tc := range cases {
		code, body := ts.post(tc.ctype, tc.body)
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Errorf("%s: the answer is not JSON: %q", tc.name, body)
			continue
		}
		if code != tc.status || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s: %d %q; want %d mentioning %q", tc.name, code, e.Error, tc.status, tc.want)
		}
	}

	// A batch is all or nothing: the bad third line rejects the first two.
	batch := `{"topic":"a","data":1}` + "\n" + `{"topic":"b","data":2}` + "\r\n" + `{"topic":"c","event":"bad\nname"}` + "\n"
	code, body := ts.post("application/x-ndjson", batch)
	if code != 400 || !strings.Contains(body, "line 3") {
		t.Fatalf("bad batch: %d %s", code, body)
	}
	// Nothing was published: the next good batch gets the first ids.
	code, body = ts.post("application/x-ndjson; charset=utf-8", `{"topic":"a","data":1}`+"\r\n\r\n"+`{"topic":"b","data":"two","key":"k"}`)
	if code != 200 || body != `{"ids":["test-1/a","test-2/b"]}`+"\n" {
		t.Fatalf("good batch: %d %s", code, body)
	}
	evs := c.next(2, 5*time.Second)
	if evs[0].LastEventID != "test-1/a" || evs[1].LastEventID != "test-2/b" || evs[0].Data != "1" || evs[1].Data != "two" {
		t.Fatalf("events: %s", fmtEvents(evs))
	}
	c.expectNothing(50 * time.Millisecond)
	if got := ts.metric(`ringcast_publish_rejected_total{reason="bad-request"}`); got != 18 {
		t.Errorf("bad-request rejections = %v; want 18", got)
	}
	if got := ts.metric(`ringcast_publish_rejected_total{reason="too-large"}`); got != 3 {
		t.Errorf("too-large rejections = %v; want 3", got)
	}
	if got := ts.metric(`ringcast_publish_rejected_total{reason="content-type"}`); got != 2 {
		t.Errorf("content-type rejections = %v; want 2", got)
	}
	if got := ts.metric("ringcast_events_published_total"); got != 2 {
		t.Errorf("published = %v; want 2", got)
	}
}

func TestPublishToken(t *testing.T) {
	ts := startServer(t, Config{PublishToken: "s3cret"})
	ev := `{"topic":"a"}`
	for _, auth := range []string{"", "Bearer wrong", "Basic s3cret", "Bearer s3cret2", "Bearer "} {
		var h []string
		if auth != "" {
			h = []string{"Authorization", auth}
		}
		if code, body := ts.post("application/json", ev, h...); code != 401 || !strings.Contains(body, "Bearer") {
			t.Errorf("Authorization %q: %d %s; want 401", auth, code, body)
		}
	}
	if code, body := ts.post("application/json", ev, "Authorization", "bearer s3cret"); code != 200 {
		t.Errorf("good token: %d %s", code, body)
	}
}

func TestPublishGoAPI(t *testing.T) {
	ts := startServer(t, Config{})
	_, err := ts.Publish(Event{Topic: "a"}, Event{Topic: "b", Event: "x\ny"})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Index != 1 {
		t.Fatalf("Publish with a bad second event: %v", err)
	}
	if _, err := ts.Publish(); err == nil {
		t.Fatalf("Publish of nothing succeeded")
	}
	// Every field must be valid UTF-8: a stream is UTF-8, and a browser
	// would show U+FFFD for what was published.
	for _, tc := range []struct {
		ev   Event
		want string
	}{
		{Event{Topic: "a\xff"}, `event 2: "topic" is not valid UTF-8 at byte 2`},
		{Event{Topic: "a", Event: "\xe2\x82"}, `event 2: "event" is not valid UTF-8 at byte 1`},
		{Event{Topic: "a", Key: "k\xc0\xaf"}, `event 2: "key" is not valid UTF-8 at byte 2`},
		{Event{Topic: "a", Data: []byte("ok €\n\xed\xa0\x80")}, `event 2: "data" is not valid UTF-8 at byte 8`},
	} {
		_, err := ts.Publish(Event{Topic: "fine"}, tc.ev)
		if !errors.As(err, &ve) || ve.Index != 1 || err.Error() != tc.want {
			t.Errorf("Publish(%+v): %v; want a *ValidationError %q", tc.ev, err, tc.want)
		}
	}
	// Nothing was published: the next batch gets the first ids, each
	// naming its topic, exactly as the stream's ids do.
	if ids := ts.publish(Event{Topic: "a"}, Event{Topic: "b/c \"€\""}); ids[0] != "test-1/a" || ids[1] != "test-2/b/c \"€\"" {
		t.Fatalf("ids %q", ids)
	}
}

// fuzzParse parses a fuzzer's body as one JSON event, or as NDJSON.
func fuzzParse(body []byte, ndjson bool) ([]Event, *parseError) {
	format := formatJSON
	if ndjson {
		format = formatNDJSON
	}
	return parsePublish(body, format, 4096, testEpoch)
}

// FuzzParsePublish: whatever the body, the parser either rejects it with a
// 400 or 413 and a message, or returns events that all pass validation and
// encode to exactly one SSE event each.
func FuzzParsePublish(f *testing.F) {
	f.Add([]byte(`{"topic":"a","event":"e","data":"x\ny","key":"k"}`), false)
	f.Add([]byte(`{"topic":"a","data":{"n":[1,2,{"z":null}]}}`), false)
	f.Add([]byte("{\"topic\":\"a\"}\n{\"topic\":\"b\",\"data\":\"\\r\\n\"}\r\n"), true)
	f.Add([]byte(`{"topic":"a","event":"reset"}`), false)
	f.Add([]byte(`[{"topic":"a"}]`), true)
	f.Add([]byte("{\"topic\":\"\xff\"}"), false)
	f.Add([]byte("{\"topic\":\"a\"}\n{\"topic\":\"a\",\"data\":\"\xc3\"}"), true)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		evs, pe := fuzzParse(body, ndjson)
		if pe != nil {
			if (pe.status != 400 && pe.status != 413) || pe.msg == "" {
				t.Fatalf("error %#v", pe)
			}
			return
		}
		if len(evs) == 0 {
			t.Fatalf("no error and no events")
		}
		// JSON text is UTF-8 (RFC 8259): a body with an invalid byte
		// anywhere is rejected, never repaired with U+FFFD.
		if !utf8.Valid(body) {
			t.Fatalf("accepted a body that is not valid UTF-8: %q", body)
		}
		for i := range evs {
			if ve := validate(&evs[i]); ve != nil {
				t.Fatalf("event %d passed the parser but not validation: %v", i, ve)
			}
			fr := encodeFrame(&evs[i])
			fr.stamp("fz", uint64(i+1))
			if n := strings.Count(string(fr.bytes), "\n\n"); n != 1 || !strings.HasSuffix(string(fr.bytes), "\n\n") {
				t.Fatalf("frame %q has %d blank lines", fr.bytes, n)
			}
		}
	})
}
