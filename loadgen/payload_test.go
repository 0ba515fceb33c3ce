package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"testing/quick"
)

func TestPayloadRoundTrip(t *testing.T) {
	prop := func(topic uint32, seq uint64, intended int64, warm bool, extra uint8) bool {
		if intended < 0 {
			intended = -intended
		}
		st := Stamp{Topic: topic, Seq: seq, IntendedNs: intended, Warmup: warm}
		size := PayloadHeaderBytes + int(extra)
		p := AppendPayload(nil, st, size)
		if len(p) != size {
			return false
		}
		got, ok := DecodePayload(p)
		return ok && got == st
	}
	if err := quick.Check(prop, nil); err != nil {
		t.Fatal(err)
	}
}

// A server may keep the JSON quoting of a string data field, or embed the
// payload in a larger object: the marker is found anyway.
// parseHex8 agrees with strconv on 8 digits with any byte in any position.
func TestParseHex8(t *testing.T) {
	prop := func(v uint32, pos uint8, c byte) bool {
		b := []byte(fmt.Sprintf("%08x", v))
		if pos%2 == 0 {
			b = bytes.ToUpper(b)
		}
		if pos%3 != 0 {
			b[pos%8] = c
		}
		want, err := strconv.ParseUint(string(b), 16, 32)
		got, ok := parseHex8(b)
		return ok == (err == nil && !bytes.ContainsAny(b, "+-_xX")) && (!ok || uint64(got) == want)
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 200000}); err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 256; c++ {
		b := []byte("0123abCD")
		for i := range b {
			orig := b[i]
			b[i] = byte(c)
			_, err := strconv.ParseUint(string(b), 16, 32)
			if _, ok := parseHex8(b); ok != (err == nil && c != '_') {
				t.Fatalf("%q: ok %v, strconv %v", b, ok, err)
			}
			b[i] = orig
		}
	}
}

func TestPayloadInsideJSON(t *testing.T) {
	st := Stamp{Topic: 3, Seq: 99, IntendedNs: 123456789}
	p := AppendPayload(nil, st, 128)
	quoted, _ := json.Marshal(string(p))
	wrapped, _ := json.Marshal(map[string]any{"msg": string(p), "n": 1})
	for _, data := range [][]byte{p, quoted, wrapped} {
		got, ok := DecodePayload(data)
		if !ok || got != st {
			t.Fatalf("%s: got %+v %v", data, got, ok)
		}
	}
	for _, bad := range []string{"", "rc1|", "rc1|zzzzzzzz|0000000000000000|0000000000000000|m|", "hello"} {
		if _, ok := DecodePayload([]byte(bad)); ok {
			t.Fatalf("%q decoded", bad)
		}
	}
}

func TestPayloadDecodeDoesNotAllocate(t *testing.T) {
	p := AppendPayload(nil, Stamp{Seq: 1}, 128)
	if a := testing.AllocsPerRun(100, func() { DecodePayload(p) }); a != 0 {
		t.Fatalf("DecodePayload allocates %.0f times", a)
	}
}

func TestJSONUint(t *testing.T) {
	cases := []struct {
		data string
		key  string
		want uint64
		ok   bool
	}{
		{`{"skipped":42}`, "skipped", 42, true},
		{`{"reason":"too-old","lastEventId":"e-1","missed": 7}`, "missed", 7, true},
		{`{"reason":"epoch","missed":null}`, "missed", 0, false},
		{`{"skipped":-1}`, "skipped", 0, false},
		{`{}`, "skipped", 0, false},
	}
	for _, c := range cases {
		got, ok := jsonUint([]byte(c.data), c.key)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %d %v", c.data, got, ok)
		}
	}
}

func FuzzDecodePayload(f *testing.F) {
	f.Add(AppendPayload(nil, Stamp{Topic: 1, Seq: 2, IntendedNs: 3}, 64))
	f.Add([]byte(`"rc1|00000001|0000000000000002|0000000000000003|w|"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, ok := DecodePayload(data)
		if !ok {
			return
		}
		// Whatever decodes re-encodes to a payload that decodes the same.
		again, ok := DecodePayload(AppendPayload(nil, st, PayloadHeaderBytes))
		if !ok || again != st {
			t.Fatalf("%+v re-decoded as %+v", st, again)
		}
	})
}
