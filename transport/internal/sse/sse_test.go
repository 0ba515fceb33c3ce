package sse

import (
	"strings"
	"testing"
	"testing/quick"

	"github.com/ringcast/ringcast/internal/ssespec"
)

func TestAppendEventBytes(t *testing.T) {
	cases := []struct {
		name, data, want string
	}{
		{"", "hello", "data: hello\n\n"},
		{"tick", "1", "event: tick\ndata: 1\n\n"},
		{"", "", "data: \n\n"},
		{"", "a\nb", "data: a\ndata: b\n\n"},
		{"", "a\rb", "data: a\ndata: b\n\n"},
		{"", "a\r\nb", "data: a\ndata: b\n\n"},
		{"", "a\n\rb", "data: a\ndata: \ndata: b\n\n"},
		{"", "a\r\n\r\nb", "data: a\ndata: \ndata: b\n\n"},
		{"", "\n", "data: \ndata: \n\n"},
		{"", "\r", "data: \ndata: \n\n"},
		{"", "\r\n", "data: \ndata: \n\n"},
		{"", "end\r", "data: end\ndata: \n\n"},
		{"", " lead", "data:  lead\n\n"},
		{"", ":colon", "data: :colon\n\n"},
		{"x", "nul\x00inside", "event: x\ndata: nul\x00inside\n\n"},
		{"bad\nname", "d", "event: bad name\ndata: d\n\n"},
	}
	for _, c := range cases {
		got := string(AppendEvent(nil, c.name, []byte(c.data)))
		if got != c.want {
			t.Errorf("AppendEvent(%q, %q) = %q; want %q", c.name, c.data, got, c.want)
		}
		if n := EventLen(c.name, []byte(c.data)); n != len(got) {
			t.Errorf("EventLen(%q, %q) = %d; want %d", c.name, c.data, n, len(got))
		}
	}
}

func TestSingleLineFields(t *testing.T) {
	if got := string(AppendID(nil, "e1-7")); got != "id: e1-7\n" {
		t.Fatalf("AppendID = %q", got)
	}
	if got := string(AppendID(nil, "a\r\nb\x00c")); got != "id: a  bc\n" {
		t.Fatalf("AppendID with breaks = %q", got)
	}
	if got := string(AppendRetry(nil, 3000)); got != "retry: 3000\n\n" {
		t.Fatalf("AppendRetry = %q", got)
	}
	if got := string(AppendComment(nil, "keep-alive")); got != ": keep-alive\n\n" {
		t.Fatalf("AppendComment = %q", got)
	}
	for _, bad := range []string{"a\nb", "a\rb", "a\x00b", "\xff"} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) = nil; want an error", bad)
		}
	}
	for _, good := range []string{"", "update", "ünïcode", "a:b c"} {
		if err := CheckName(good); err != nil {
			t.Errorf("CheckName(%q) = %v", good, err)
		}
	}
}

// normalise is what the parser gives back for data: every line break as LF.
func normalise(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// roundTrip encodes one event and parses it with the reference parser.
func roundTrip(t *testing.T, id, name string, data []byte) {
	t.Helper()
	var frame []byte
	if id != "" {
		frame = AppendID(frame, id)
	}
	frame = AppendEvent(frame, name, data)
	if n := EventLen(name, data); len(frame)-len(id)-len("id: \n")*boolInt(id != "") != n {
		t.Fatalf("EventLen(%q, %q) = %d; frame %q", name, data, n, frame)
	}
	evs, p := ssespec.Parse(frame)
	if len(evs) != 1 {
		t.Fatalf("frame %q parsed to %d events; want 1", frame, len(evs))
	}
	want := ssespec.Decode([]byte(normalise(string(data))))
	if evs[0].Data != want {
		t.Fatalf("data %q came back as %q (frame %q)", data, evs[0].Data, frame)
	}
	wantType := name
	if wantType == "" {
		wantType = "message"
	}
	if CheckName(name) == nil && evs[0].Type != wantType {
		t.Fatalf("event %q came back as %q", name, evs[0].Type)
	}
	if CheckName(id) == nil && p.LastEventID() != id {
		t.Fatalf("id %q came back as %q", id, p.LastEventID())
	}
	if strings.Count(string(frame), "\n\n") != 1 || !strings.HasSuffix(string(frame), "\n\n") {
		t.Fatalf("frame %q must end in, and contain exactly one, blank line", frame)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRoundTripProperty(t *testing.T) {
	// Bias the alphabet towards line breaks so quick finds the edge cases.
	gen := func(b []byte) []byte {
		alphabet := []byte("ab \r\n:\x00é")
		out := make([]byte, len(b))
		for i, c := range b {
			out[i] = alphabet[int(c)%len(alphabet)]
		}
		return out
	}
	f := func(raw []byte, nameRaw []byte) bool {
		data := gen(raw)
		name := strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == 0 {
				return -1
			}
			return r
		}, string(gen(nameRaw)))
		roundTrip(t, "ep-1", name, data)
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Fatal(err)
	}
}

// FuzzAppendEvent checks that every frame we write parses back, under the
// WHATWG algorithm, to exactly one event with the same name, id and data
// (line breaks normalised to LF, invalid UTF-8 replaced as a decoder would).
func FuzzAppendEvent(f *testing.F) {
	f.Add("ep-1", "", []byte("hello"))
	f.Add("ep-2", "tick", []byte("a\r\nb\rc\nd"))
	f.Add("", "x", []byte(""))
	f.Add("ep-3", "y", []byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, id, name string, data []byte) {
		if CheckName(id) != nil || CheckName(name) != nil {
			// Callers reject these before encoding; the encoder still must
			// not break the stream: one frame, one blank line.
			frame := AppendEvent(AppendID(nil, id), name, data)
			if evs, _ := ssespec.Parse(frame); len(evs) != 1 {
				t.Fatalf("frame %q parsed to %d events", frame, len(evs))
			}
			return
		}
		roundTrip(t, id, name, data)
	})
}
