package eventid

import (
	"testing"
	"testing/quick"

	"github.com/ringcast/ringcast/transport/internal/sse"
)

func TestRoundTrip(t *testing.T) {
	e := NewEpoch()
	if !ValidEpoch(e) || len(e) != 8 {
		t.Fatalf("NewEpoch() = %q", e)
	}
	f := func(seq uint64) bool {
		if seq == 0 {
			seq = 1
		}
		id := Format(e, seq)
		if sse.CheckName(id) != nil {
			return false
		}
		ge, gs, err := Parse(id)
		return err == nil && ge == e && gs == seq
	}
	if err := quick.Check(f, nil); err != nil {
		t.Fatal(err)
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{
		"", "-", "abc", "abc-", "-5", "abc-0", "abc-007", "abc--1", "abc-+1",
		"ABC-1", "ab c-1", "abc-1x", "abc-18446744073709551616",
		"abcdefghijklmnopq-1", "abc-1\n", "\x00-1", "abc-١",
	} {
		if _, _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted a malformed id", bad)
		}
	}
	if e, s, err := Parse("k3v9q2xa-18446744073709551615"); err != nil || e != "k3v9q2xa" || s != 1<<64-1 {
		t.Fatalf("Parse(max) = %q, %d, %v", e, s, err)
	}
}
