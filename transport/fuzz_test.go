package transport

// Fuzz targets beside FuzzParsePublish (publish_test.go) and FuzzAppendEvent
// (internal/sse), which check that the parser rejects or validates and that
// the encoder round-trips. These two follow hostile input further:
//
//   - FuzzResume: any Last-Event-ID a client sends, through the engine's
//     resume logic, yields either a resume (only for an id this server
//     issued) or exactly one well-formed reset notice, with the right reason
//     and the id quoted safely.
//   - FuzzPublishDelivers: whatever a publish body holds, the parser
//     accepts it only when it is valid UTF-8, and every event it accepts
//     reaches a WHATWG parser as exactly one event with its id (naming its
//     topic), name and data intact, in a frame no longer than wireLen (what
//     MaxEventBytes bounds), and exactly that long with the longest id.
//
// Seed corpora: testdata/fuzz/FuzzResume, testdata/fuzz/FuzzPublishDelivers.
// Run: go test -run '^$' -fuzz FuzzResume -fuzztime 30s ./transport/

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ringcast/ringcast/internal/ssespec"
	"github.com/ringcast/ringcast/transport/internal/eventid"
)

func FuzzResume(f *testing.F) {
	for _, s := range []string{"", "fz-3", "fz-99", "zz-1", "x", "fz-1\nevent: evil\n\n", "\xff-1", "fz-3/a", "fz-3/", "fz-3/\xff", "zz-1/b"} {
		f.Add(s, byte(0))
	}
	selections := [][]string{nil, {"a"}, {"a", "b"}, {"nosuch"}}
	f.Fuzz(func(t *testing.T, raw string, sel byte) {
		s, err := New(Config{Epoch: "fz", Capacity: 16, TopicCapacity: 4, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.eng.close()
		const published = 12
		for i := range published {
			s.publishForFuzz(t, string(rune('a'+i%3)))
		}
		topics := selections[int(sel)%len(selections)]
		sub, reset, err := s.eng.subscribe(newSelection(topics), parseResume(raw))
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		defer sub.close()

		epoch, seq, _, perr := eventid.Parse(raw)
		issued := perr == nil && epoch == "fz" && seq <= published
		if reset == nil {
			if raw != "" && !issued {
				t.Fatalf("Last-Event-ID %q: no reset, but this server never issued it", raw)
			}
			return
		}
		if raw == "" {
			t.Fatalf("a reset without a Last-Event-ID: %q", reset)
		}
		if !utf8.Valid(reset) || bytes.ContainsAny(reset, "\r\x00") || bytes.Count(reset, []byte("\n\n")) != 1 || !bytes.HasSuffix(reset, []byte("\n\n")) {
			t.Fatalf("the notice is not one clean frame: %q", reset)
		}
		evs, _ := ssespec.Parse(reset)
		if len(evs) != 1 || evs[0].Type != EventReset || evs[0].LastEventID != "" {
			t.Fatalf("the notice parses to %+v", evs)
		}
		var n struct {
			Reason      string `json:"reason"`
			LastEventID string `json:"lastEventId"`
			Missed      *int64 `json:"missed"`
		}
		dec := json.NewDecoder(strings.NewReader(evs[0].Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&n); err != nil {
			t.Fatalf("the notice's data %q: %v", evs[0].Data, err)
		}
		want := "malformed"
		switch {
		case perr != nil:
		case epoch != "fz":
			want = "epoch"
		case issued:
			want = "too-old"
		}
		if n.Reason != want {
			t.Fatalf("Last-Event-ID %q: reason %q; want %q", raw, n.Reason, want)
		}
		if n.Missed != nil && (n.Reason != "too-old" || *n.Missed < 0) {
			t.Fatalf("Last-Event-ID %q: missed %d with reason %s", raw, *n.Missed, n.Reason)
		}
		// The id comes back cut to the longest valid id on a rune
		// boundary, each invalid byte replaced: what a client sent, made
		// safe.
		cut := raw
		if len(cut) > eventid.MaxLen {
			i := eventid.MaxLen
			for i > 0 && !utf8.RuneStart(cut[i]) {
				i--
			}
			cut = cut[:i]
		}
		if q := string([]rune(cut)); n.LastEventID != q {
			t.Fatalf("the notice quotes %q; want %q", n.LastEventID, q)
		}
	})
}

// publishForFuzz publishes one event on topic, failing t on error.
func (s *Server) publishForFuzz(t *testing.T, topic string) {
	if _, err := s.Publish(Event{Topic: topic, Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
}

func FuzzPublishDelivers(f *testing.F) {
	f.Add([]byte(`{"topic":"a","event":"e","data":"x\r\ny"}`), false)
	f.Add([]byte("{\"topic\":\"a\"}\n{\"topic\":\"b\",\"data\":[1,\"\\n\"]}"), true)
	f.Add([]byte("{\"topic\":\"a/b \\\"\u20ac\",\"data\":\"x\"}"), false)
	f.Add([]byte("{\"topic\":\"a\",\"data\":\"\xff\"}"), false)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		evs, err := fuzzParse(body, ndjson)
		if err != nil {
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted a body that is not valid UTF-8: %q", body)
		}
		var stream []byte
		for i := range evs {
			fr := encodeFrame(&evs[i])
			fr.stamp("fz", uint64(i+1))
			stream = append(stream, fr.bytes...)
			longest := encodeFrame(&evs[i])
			longest.stamp("fz", math.MaxUint64)
			if n := wireLen("fz", &evs[i]); len(fr.bytes) > n || len(longest.bytes) != n {
				t.Fatalf("event %d: frames of %d and, with the longest id, %d bytes; wireLen says %d", i, len(fr.bytes), len(longest.bytes), n)
			}
		}
		if !utf8.Valid(stream) {
			t.Fatalf("the frames are not valid UTF-8: %q", stream)
		}
		got, _ := ssespec.Parse(stream)
		if len(got) != len(evs) {
			t.Fatalf("%d events encoded, %d parsed back from %q", len(evs), len(got), stream)
		}
		for i, ev := range evs {
			wantType := ev.Event
			if wantType == "" {
				wantType = "message"
			}
			wantData := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(ev.Data))
			wantID := "fz-" + strconv.Itoa(i+1) + "/" + ev.Topic
			if g := got[i]; g.LastEventID != wantID || g.Type != wantType || g.Data != wantData {
				t.Fatalf("event %d: parsed back as %+v; want id %q, type %q, data %q", i, g, wantID, wantType, wantData)
			}
		}
	})
}
