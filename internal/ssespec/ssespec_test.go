package ssespec

import (
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"
)

// feed runs a stream through a parser in pieces of the given sizes (cycled;
// the whole stream when none).
func feed(p *Parser, stream string, pieces ...int) []Event {
	var out []Event
	b := []byte(stream)
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(pieces) > 0 {
			n = min(n, max(1, pieces[i%len(pieces)]))
		}
		out = append(out, p.Feed(b[:n])...)
		b = b[n:]
	}
	return out
}

var splits = [][]int{nil, {1}, {2, 3}, {7}}

// The examples of the standard's section "Interpreting an event stream",
// with the results it states for them.
func TestSpecExamples(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream string
		want   []Event
		lastID string
	}{
		{
			"stock ticker: data lines joined with LF",
			"data: YHOO\ndata: +2\ndata: 10\n\n",
			[]Event{{"message", "YHOO\n+2\n10", ""}},
			"",
		},
		{
			"comment, id, an empty id resets it, one leading space stripped",
			": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
			[]Event{{"message", "first event", "1"}, {"message", "second event", ""}, {"message", " third event", ""}},
			"",
		},
		{
			"the end of the stream does not dispatch",
			": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
			[]Event{{"message", "first event", "1"}, {"message", "second event", ""}},
			"",
		},
		{
			"empty data, and a data buffer of one LF",
			"data\n\ndata\ndata\n\ndata:\n",
			[]Event{{"message", "", ""}, {"message", "\n", ""}},
			"",
		},
		{
			"with or without the space after the colon",
			"data:test\n\ndata: test\n\n",
			[]Event{{"message", "test", ""}, {"message", "test", ""}},
			"",
		},
		{
			"event types, reset after each dispatch",
			"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\ndata: 113411\n\n",
			[]Event{{"add", "73857293", ""}, {"remove", "2153", ""}, {"message", "113411", ""}},
			"",
		},
		{
			"the last event ID survives dispatch, and is sent again",
			"id: 7\ndata: a\n\ndata: b\n\n",
			[]Event{{"message", "a", "7"}, {"message", "b", "7"}},
			"7",
		},
	} {
		for _, pieces := range splits {
			t.Run(fmt.Sprintf("%s/pieces%v", tc.name, pieces), func(t *testing.T) {
				var p Parser
				got := feed(&p, tc.stream, pieces...)
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got  %q\nwant %q", got, tc.want)
				}
				if p.LastEventID() != tc.lastID {
					t.Fatalf("last event ID %q; want %q", p.LastEventID(), tc.lastID)
				}
			})
		}
	}
}

func TestLastEventIDSetAtDispatch(t *testing.T) {
	for _, pieces := range splits {
		var p Parser
		// An id line sets the buffer; only a blank line copies it to the
		// string a reconnection sends, even with no data to dispatch.
		feed(&p, "id: 1\ndata: x\n\nid: 2\n", pieces...)
		if p.LastEventID() != "1" {
			t.Fatalf("pieces %v: %q before the blank line; want 1", pieces, p.LastEventID())
		}
		feed(&p, "\n", pieces...)
		if p.LastEventID() != "2" {
			t.Fatalf("pieces %v: %q after an id-only block; want 2", pieces, p.LastEventID())
		}
		// An id with NUL is ignored; one without a value empties it.
		if evs := feed(&p, "id: a\x00b\ndata: y\n\n", pieces...); evs[0].LastEventID != "2" || p.LastEventID() != "2" {
			t.Fatalf("pieces %v: NUL id: %q, %q", pieces, evs, p.LastEventID())
		}
		if feed(&p, "id\n\n", pieces...); p.LastEventID() != "" {
			t.Fatalf("pieces %v: bare id left %q", pieces, p.LastEventID())
		}
	}
}

func TestLineEnds(t *testing.T) {
	want := []Event{{"e", "a\nb", "7"}, {"message", "c", "7"}}
	for _, nl := range []string{"\n", "\r", "\r\n"} {
		stream := "event: e" + nl + "data: a" + nl + "data: b" + nl + "id: 7" + nl + nl + "data: c" + nl + nl
		for _, pieces := range [][]int{nil, {1}, {2}, {3, 1}} {
			var p Parser
			if got := feed(&p, stream, pieces...); !reflect.DeepEqual(got, want) {
				t.Fatalf("line end %q pieces %v: got %q", nl, pieces, got)
			}
		}
	}
	for _, tc := range []struct {
		stream string
		pieces []int
		want   []Event
	}{
		// A CR ending one piece and the LF opening the next: one line end.
		{"data: x\r\ndata: y\rdata: z\n\r\n", []int{8, 1}, []Event{{"message", "x\ny\nz", ""}}},
		{"data: x\r", nil, nil},                             // the blank line is not there yet
		{"data: x\r\r", nil, []Event{{"message", "x", ""}}}, // CR CR: two line ends
		{"data: x\n\rdata: y\r\n\n", nil, []Event{{"message", "x", ""}, {"message", "y", ""}}}, // LF CR: the CR ends an empty line
		{"data: x\n\ndata: y", nil, []Event{{"message", "x", ""}}},                             // an unterminated last line is never read
	} {
		var p Parser
		if got := feed(&p, tc.stream, tc.pieces...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q pieces %v: got %q; want %q", tc.stream, tc.pieces, got, tc.want)
		}
	}
}

func TestBOM(t *testing.T) {
	const bom = "\xEF\xBB\xBF"
	for _, keep := range []bool{false, true} {
		for _, tc := range []struct {
			stream string
			want   []Event
		}{
			{bom + "data: x\n\n", []Event{{"message", "x", ""}}},
			// Only one goes: the second is part of the first field's name.
			{bom + bom + "data: x\n\ndata: y\n\n", []Event{{"message", "y", ""}}},
			// Bytes that start like a BOM but are not one stay.
			{"\xEFdata: x\n\ndata: y\n\n", []Event{{"message", "y", ""}}},
			{"\xEF\xBBdata: x\n\ndata: y\n\n", []Event{{"message", "y", ""}}},
			// Not at the start, it is data.
			{"data: " + bom + "\n\n", []Event{{"message", "\uFEFF", ""}}},
		} {
			for _, pieces := range splits {
				p := Parser{KeepBytes: keep}
				if got := feed(&p, tc.stream, pieces...); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("keep bytes %v, %q pieces %v: got %q; want %q", keep, tc.stream, pieces, got, tc.want)
				}
			}
		}
	}
	// A stream that ends inside what may still be a BOM dispatches nothing.
	if evs, _ := Parse([]byte("\xEF\xBB")); evs != nil {
		t.Errorf("partial BOM: %q", evs)
	}
}

func TestRetry(t *testing.T) {
	for _, tc := range []struct {
		stream string
		ms     int64
		ok     bool
	}{
		{"", 0, false},
		{"retry: 2500\n", 2500, true},
		{"retry:0\n", 0, true},
		{"retry: 2500", 0, false}, // no line end: never interpreted
		{"retry: 100\nretry: x1\nretry:\nretry: -5\nretry: 1.5\nretry:  7\nretry\nretry: 1e3\n", 100, true},
		{"retry: 99999999999999999999999999\n", math.MaxInt64, true},
		{"retry: 9223372036854775807\n", math.MaxInt64, true},
		{"retry: 9223372036854775806\n", math.MaxInt64 - 1, true},
		{"retry: 00042\r\n", 42, true},
		{"retry: \uFF11\n", 0, false}, // a non-ASCII digit is not one
	} {
		_, p := Parse([]byte(tc.stream))
		if ms, ok := p.Retry(); ms != tc.ms || ok != tc.ok {
			t.Errorf("%q: retry %d %v; want %d %v", tc.stream, ms, ok, tc.ms, tc.ok)
		}
	}
}

func TestDecode(t *testing.T) {
	const r = "\uFFFD"
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain ascii", "plain ascii"},
		{"é€😀\uFEFF", "é€😀\uFEFF"},
		// The Unicode standard's example of "maximal subparts" (table 3-8),
		// which the Encoding standard's decoder produces.
		{"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a" + r + r + r + "b" + r + "c" + r + r + "d"},
		{"\xff\xfe", r + r},                 // one per byte where no sequence starts
		{"\xC0\x80", r + r},                 // overlong: C0 never starts a sequence
		{"\xE0\x80\x80", r + r + r},         // overlong: E0 needs A0..BF next
		{"\xED\xA0\x80", r + r + r},         // a surrogate
		{"\xF4\x90\x80\x80", r + r + r + r}, // past U+10FFFF
		{"\xF0\x9F\x98", r},                 // cut short at the end: one
		{"\xF0\x9F\x98\n", r + "\n"},        // and before an ASCII byte, which stays
		{"\xE2\x82\xE2\x82\xAC", r + "€"},   // an interrupted sequence, then a whole one
		{"a\xC3:\xC3 \xC3\x00\xC3\r", "a" + r + ":" + r + " " + r + "\x00" + r + "\r"},
	} {
		if got := Decode([]byte(tc.in)); got != tc.want {
			t.Errorf("Decode(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
	f := func(b []byte) bool {
		got := Decode(b)
		return utf8.ValidString(got) && (!utf8.Valid(b) || got == string(b))
	}
	if err := quick.Check(f, nil); err != nil {
		t.Error(err)
	}
}

func TestDecodesInvalidUTF8(t *testing.T) {
	evs, p := Parse([]byte("event: \xff\nid: \xE2\x82\ndata: a\xC3\xC3b\n\n"))
	want := []Event{{"\uFFFD", "a\uFFFD\uFFFDb", "\uFFFD"}}
	if !reflect.DeepEqual(evs, want) || p.LastEventID() != "\uFFFD" {
		t.Fatalf("got %q (last id %q); want %q", evs, p.LastEventID(), want)
	}
}

// randomStream builds streams from fragments that reach every rule: line
// ends of each kind, BOMs, NULs, invalid bytes, fields with and without
// values and spaces.
func randomStream(r *rand.Rand) string {
	frags := []string{
		"data", "data:", "data: ", "event", "event: ", "id", "id: ", "retry: ", "retry:", ":", "x", "12",
		"\n", "\r", "\r\n", "\n\n", " ", "\x00", "\xEF\xBB\xBF", "\xC3", "\xA9", "\xE2\x82", "\xff", "é",
	}
	var sb strings.Builder
	for range r.Intn(60) {
		sb.WriteString(frags[r.Intn(len(frags))])
	}
	return sb.String()
}

// Feeding in pieces changes nothing, and a byte parser's strings decode to
// the decoding parser's.
func TestPiecesAndKeepBytes(t *testing.T) {
	f := func(seed int64) bool {
		r := rand.New(rand.NewSource(seed))
		stream := randomStream(r)
		whole, wp := Parse([]byte(stream))
		var p Parser
		pieces := []int{1 + r.Intn(5), 1 + r.Intn(5), 1 + r.Intn(5)}
		if got := feed(&p, stream, pieces...); !reflect.DeepEqual(got, whole) || p.LastEventID() != wp.LastEventID() || p.retryMs != wp.retryMs || p.retrySet != wp.retrySet {
			t.Logf("%q in pieces %v: %q (last id %q); whole: %q (last id %q)", stream, pieces, got, p.LastEventID(), whole, wp.LastEventID())
			return false
		}
		kb := Parser{KeepBytes: true}
		raw := feed(&kb, stream, pieces...)
		for i := range raw {
			raw[i] = Event{Decode([]byte(raw[i].Type)), Decode([]byte(raw[i].Data)), Decode([]byte(raw[i].LastEventID))}
		}
		if !reflect.DeepEqual(raw, whole) || Decode([]byte(kb.LastEventID())) != wp.LastEventID() || kb.retryMs != wp.retryMs || kb.retrySet != wp.retrySet {
			t.Logf("%q: bytes, decoded: %q; decoding parser: %q", stream, raw, whole)
			return false
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 3000}); err != nil {
		t.Fatal(err)
	}
}

func TestFeedKeepsNoReference(t *testing.T) {
	var p Parser
	b := []byte("data: abc")
	p.Feed(b)
	copy(b, "XXXXXXXXX")
	if evs := p.Feed([]byte("\n\n")); len(evs) != 1 || evs[0].Data != "abc" {
		t.Fatalf("got %q", evs)
	}
}
