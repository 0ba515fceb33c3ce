package eventid

import (
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"

	"github.com/ringcast/ringcast/transport/internal/sse"
)

// validTopic turns any string into a valid topic: invalid UTF-8 and
// control characters (C0, DEL and C1, as CheckTopic refuses them) replaced,
// cut to MaxTopicLen on a rune boundary.
func validTopic(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return '_'
		}
		return r
	}, s)
	for len(s) > MaxTopicLen {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	if s == "" {
		s = "t"
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	e := NewEpoch()
	if !ValidEpoch(e) || len(e) != 8 {
		t.Fatalf("NewEpoch() = %q", e)
	}
	f := func(seq uint64, raw string, withTopic bool) bool {
		if seq == 0 {
			seq = 1
		}
		topic := ""
		if withTopic {
			topic = validTopic(raw)
		}
		id := Format(e, seq, topic)
		if sse.CheckName(id) != nil || len(id) > MaxLen || !validHeaderValue(id) {
			return false
		}
		if string(Append(nil, e, seq, topic)) != string(AppendTopic(AppendPosition(nil, e, seq), topic)) {
			return false
		}
		ge, gs, gt, err := Parse(id)
		return err == nil && ge == e && gs == seq && gt == topic
	}
	if err := quick.Check(f, nil); err != nil {
		t.Fatal(err)
	}
}

// validHeaderValue reports whether v can be sent as an HTTP field value
// (RFC 9110 5.5: visible ASCII, obs-text bytes >= 0x80, space and tab
// inside; no other control byte) without a leading space or tab, which a
// server would strip.
func validHeaderValue(v string) bool {
	if v == "" || v[0] == ' ' || v[0] == '\t' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func TestLongest(t *testing.T) {
	topic := strings.Repeat("€", MaxTopicLen/3) + "a" // 256 bytes, multi-byte
	epoch := strings.Repeat("z", MaxEpochLen)
	id := Format(epoch, 1<<64-1, topic)
	if len(topic) != MaxTopicLen || len(id) != MaxLen {
		t.Fatalf("topic %d bytes, id %d bytes; want %d and %d", len(topic), len(id), MaxTopicLen, MaxLen)
	}
	if e, s, tp, err := Parse(id); err != nil || e != epoch || s != 1<<64-1 || tp != topic {
		t.Fatalf("Parse(longest) = %q, %d, %q, %v", e, s, tp, err)
	}
	if _, _, _, err := Parse(id + "x"); err == nil {
		t.Fatalf("Parse accepted a topic of %d bytes", MaxTopicLen+1)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		id, epoch string
		seq       uint64
		topic     string
	}{
		{"k3v9q2xa-18446744073709551615", "k3v9q2xa", 1<<64 - 1, ""},
		{"abc-7/prices", "abc", 7, "prices"},
		{"abc-7/news/sports", "abc", 7, "news/sports"}, // the first '/' ends the position
		{"abc-7//", "abc", 7, "/"},
		{"abc-7/a b ", "abc", 7, "a b "},
		{"abc-7/ünï €", "abc", 7, "ünï €"},
		{"abc-7/a\u00a0b", "abc", 7, "a\u00a0b"}, // U+00A0, right after the C1 controls, is no control
	} {
		e, s, tp, err := Parse(tc.id)
		if err != nil || e != tc.epoch || s != tc.seq || tp != tc.topic {
			t.Errorf("Parse(%q) = %q, %d, %q, %v; want %q, %d, %q", tc.id, e, s, tp, err, tc.epoch, tc.seq, tc.topic)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{
		"", "-", "abc", "abc-", "-5", "abc-0", "abc-007", "abc--1", "abc-+1",
		"ABC-1", "ab c-1", "abc-1x", "abc-18446744073709551616",
		"abcdefghijklmnopq-1", "abc-1\n", "\x00-1", "abc-١",
		// the topic part
		"abc-1/", "abc-1/a\nb", "abc-1/a\rb", "abc-1/a\x00", "abc-1/a\tb", "abc-1/\x7f", "abc-1/\u0085",
		"abc-1/\xff", "abc-1/\xe2\x82", "abc-1/" + strings.Repeat("x", MaxTopicLen+1),
		"abc/x-1", "/abc-1", "abc-1x/t",
	} {
		if _, _, _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted a malformed id", bad)
		}
	}
}

func TestCheckTopic(t *testing.T) {
	for _, tc := range []struct {
		topic string
		want  error
	}{
		{"a", nil},
		{strings.Repeat("x", MaxTopicLen), nil},
		{"", ErrTopicEmpty},
		{strings.Repeat("x", MaxTopicLen+1), ErrTopicTooLong},
		{"a\xffb", ErrTopicUTF8},
		{"a\nb", ErrTopicControl},
		{"\x7f", ErrTopicControl},
		{"a\u0085b", ErrTopicControl},
		{"\u0080", ErrTopicControl},
		{"x\u009f", ErrTopicControl},
		{"a\u00a0b", nil},
		{"\u00ff", nil},
	} {
		if got := CheckTopic(tc.topic); got != tc.want {
			t.Errorf("CheckTopic(%q) = %v; want %v", tc.topic, got, tc.want)
		}
	}
}

// FuzzParse: whatever a client sends, Parse either rejects it or returns
// parts that Format puts back together into exactly the same id.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"abc-1", "abc-1/t", "abc-1/a/b", "abc-1/", "abc-01/t", "abc-1/\xff", "abc-1/\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		e, s, tp, err := Parse(id)
		if err != nil {
			return
		}
		if back := Format(e, s, tp); back != id {
			t.Fatalf("Parse(%q) = %q, %d, %q; Format gives back %q", id, e, s, tp, back)
		}
		if sse.CheckName(id) != nil || len(id) > MaxLen {
			t.Fatalf("Parse accepted %q, which cannot be an SSE id", id)
		}
	})
}

// The generator of TestRoundTrip makes only topics CheckTopic accepts; a
// C1 control (U+009B here) once slipped through it and failed that test.
func TestValidTopicIsValid(t *testing.T) {
	if err := CheckTopic(validTopic("a\u009bb")); err != nil {
		t.Fatalf("validTopic kept a C1 control: %v", err)
	}
	if err := quick.Check(func(raw string) bool { return CheckTopic(validTopic(raw)) == nil }, nil); err != nil {
		t.Fatal(err)
	}
}
