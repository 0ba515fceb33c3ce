package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/ringcast/ringcast/internal/ssespec"
)

type gotEvent struct {
	Type, Data, ID string
}

// collect parses input fed in pieces of the given sizes (cycled; whole input
// when none) and returns the dispatched events.
func collect(t testing.TB, input string, pieces ...int) ([]gotEvent, *Parser) {
	t.Helper()
	var got []gotEvent
	p := NewParser(func(ev *Event) {
		got = append(got, gotEvent{string(ev.Type), string(ev.Data), string(ev.ID)})
	})
	b := []byte(input)
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(pieces) > 0 {
			n = min(n, max(1, pieces[i%len(pieces)]))
		}
		if err := p.Feed(b[:n]); err != nil {
			t.Fatalf("Feed: %v", err)
		}
		b = b[n:]
	}
	return got, p
}

// The examples of the WHATWG HTML standard, section 9.2.6 "Interpreting an
// event stream", with the results the standard states for them.
func TestParserSpecExamples(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  []gotEvent
	}{
		{
			"stock ticker: data lines joined with LF",
			"data: YHOO\ndata: +2\ndata: 10\n\n",
			[]gotEvent{{"message", "YHOO\n+2\n10", ""}},
		},
		{
			"comment, ids, id reset to empty, unterminated last event dropped",
			": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
			[]gotEvent{{"message", "first event", "1"}, {"message", "second event", ""}},
		},
		{
			"empty data lines",
			"data\n\ndata\ndata\n\ndata:\n",
			[]gotEvent{{"message", "", ""}, {"message", "\n", ""}},
		},
		{
			"one leading space is stripped, no more",
			"data:test\n\ndata: test\n\n",
			[]gotEvent{{"message", "test", ""}, {"message", "test", ""}},
		},
		{
			"event type, reset after dispatch",
			"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\ndata: 113411\n\n",
			[]gotEvent{{"add", "73857293", ""}, {"remove", "2153", ""}, {"message", "113411", ""}},
		},
	}
	for _, tc := range cases {
		for _, pieces := range [][]int{nil, {1}, {2, 3}, {7}} {
			t.Run(fmt.Sprintf("%s/pieces%v", tc.name, pieces), func(t *testing.T) {
				got, _ := collect(t, tc.input, pieces...)
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %q\nwant %q", got, tc.want)
				}
			})
		}
	}
}

func TestParserLineEndings(t *testing.T) {
	want := []gotEvent{{"e", "a\nb", "7"}, {"message", "c", "7"}}
	for _, nl := range []string{"\n", "\r", "\r\n"} {
		in := "event: e" + nl + "data: a" + nl + "data: b" + nl + "id: 7" + nl + nl + "data: c" + nl + nl
		for _, pieces := range [][]int{nil, {1}, {2}, {3, 1}} {
			got, _ := collect(t, in, pieces...)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("line end %q pieces %v: got %q want %q", nl, pieces, got, want)
			}
		}
	}
	// Mixed endings, and a CR that ends one Feed with its LF opening the next:
	// one line end, not an empty line between them.
	got, _ := collect(t, "data: x\r\ndata: y\rdata: z\n\r\n", 8, 1)
	if want := []gotEvent{{"message", "x\ny\nz", ""}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("mixed: got %q want %q", got, want)
	}
	// CR CR is two line ends: dispatch.
	got, _ = collect(t, "data: x\r\r")
	if want := []gotEvent{{"message", "x", ""}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("CR CR: got %q want %q", got, want)
	}
}

func TestParserBOM(t *testing.T) {
	bom := "\xEF\xBB\xBF"
	for _, pieces := range [][]int{nil, {1}, {2}} {
		got, _ := collect(t, bom+"data: x\n\n", pieces...)
		if want := []gotEvent{{"message", "x", ""}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("pieces %v: got %q", pieces, got)
		}
	}
	// Only the first BOM goes; a second one is part of the field name.
	got, _ := collect(t, bom+bom+"data: x\n\ndata: y\n\n")
	if want := []gotEvent{{"message", "y", ""}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("double BOM: got %q", got)
	}
	// A stream that starts like a BOM but is not one keeps its bytes.
	got, _ = collect(t, "\xEFdata: x\n\ndata: y\n\n", 1)
	if want := []gotEvent{{"message", "y", ""}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("false BOM: got %q", got)
	}
}

func TestParserFields(t *testing.T) {
	got, p := collect(t, "retry: 2500\n: keep-alive\n:\nfoo: bar\nid: a\x00b\ndata: 1\n\nretry: x1\nretry:\nid: 9\n\n")
	if want := []gotEvent{{"message", "1", ""}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
	if d, ok := p.Retry(); !ok || d != 2500*time.Millisecond {
		t.Fatalf("retry = %v %v, want 2.5s", d, ok)
	}
	if p.Comments() != 2 {
		t.Fatalf("comments = %d, want 2", p.Comments())
	}
	// foo, retry: x1 and the empty retry are ignored and counted.
	if p.IgnoredFields() != 3 {
		t.Fatalf("ignored = %d, want 3", p.IgnoredFields())
	}
	// An id-only event still sets the last event ID (dispatch with no data).
	if string(p.LastEventID()) != "9" {
		t.Fatalf("last event id = %q, want 9", p.LastEventID())
	}
	// A huge retry saturates instead of overflowing.
	_, p = collect(t, "retry: 99999999999999999999999999\n")
	if d, ok := p.Retry(); !ok || d <= 0 {
		t.Fatalf("huge retry = %v %v", d, ok)
	}
}

func TestParserResetKeepsLastEventID(t *testing.T) {
	var got []gotEvent
	p := NewParser(func(ev *Event) { got = append(got, gotEvent{string(ev.Type), string(ev.Data), string(ev.ID)}) })
	p.Feed([]byte("id: 5\ndata: a\n\ndata: partial"))
	p.Reset()
	p.Feed([]byte("\xEF\xBB\xBFdata: b\n\n"))
	want := []gotEvent{{"message", "a", "5"}, {"message", "b", "5"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestParserLimits(t *testing.T) {
	p := NewParser(func(*Event) {})
	p.MaxEventBytes = 64
	if err := p.Feed([]byte(strings.Repeat("x", 65))); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("unterminated long line: err = %v", err)
	}
	p = NewParser(func(*Event) {})
	p.MaxEventBytes = 64
	if err := p.Feed([]byte("data: " + strings.Repeat("x", 70) + "\n")); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("long line: err = %v", err)
	}
	p = NewParser(func(*Event) {})
	p.MaxEventBytes = 64
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = p.Feed([]byte("data: 0123456789\n"))
	}
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("many data lines: err = %v", err)
	}
}

func TestParserDoesNotAllocate(t *testing.T) {
	frame := []byte("id: e1-123456\nevent: tick\ndata: " + strings.Repeat("p", 128) + "\n\n: keep-alive\n\n")
	n := 0
	p := NewParser(func(ev *Event) { n += len(ev.Data) })
	p.Feed(frame) // warm the buffers
	allocs := testing.AllocsPerRun(1000, func() {
		p.Feed(frame[:20])
		p.Feed(frame[20:])
	})
	if allocs != 0 {
		t.Fatalf("Feed allocates %.1f times per event, want 0", allocs)
	}
	if n == 0 {
		t.Fatal("no events parsed")
	}
}

func TestReadFrom(t *testing.T) {
	var got []gotEvent
	p := NewParser(func(ev *Event) { got = append(got, gotEvent{string(ev.Type), string(ev.Data), string(ev.ID)}) })
	if _, err := p.ReadFrom(strings.NewReader("data: a\n\ndata: b\n\n")); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %q", got)
	}
}

// reference interprets input with the shared transcription of the standard,
// on bytes as Parser does (see ssespec.Parser.KeepBytes).
func reference(input []byte) (events []gotEvent, ref *ssespec.Parser) {
	ref = &ssespec.Parser{KeepBytes: true}
	for _, e := range ref.Feed(input) {
		events = append(events, gotEvent{e.Type, e.Data, e.LastEventID})
	}
	return events, ref
}

func FuzzParser(f *testing.F) {
	for _, s := range []string{
		"data: YHOO\ndata: +2\ndata: 10\n\n",
		": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
		"data\n\ndata\ndata\n\ndata:\n",
		"event: add\r\ndata: 1\r\n\r\nretry: 100\rdata: x\r\r",
		"\xEF\xBB\xBFid: a\x00\ndata: \xff\xfe\n\n",
		// The fast path's shape, and near misses of it.
		"id: e-1/t\ndata: rc1|x\n\nid: e-2/t\nevent: x\ndata: {}\n\nid: e\x003\ndata: y\n\n",
		"id: a\ndata: b\ndata: c\n\nid: a\ndata: b\n: c\n\nid:a\ndata: b\n\nid: a\nevent: \ndata: \n\n",
		"id: 1\ndata: x\r\n\nid: 2\nevent:x\ndata: y\n\nid: 3\ndata: z\n",
	} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, input []byte, split uint8) {
		wantEv, ref := reference(input)
		wantID := ref.LastEventID()
		wantRetry, wantRetrySet := ref.Retry()
		// A Duration holds less than the standard's integer: Parser
		// saturates there.
		wantRetry = min(wantRetry, math.MaxInt64/int64(time.Millisecond))
		var got []gotEvent
		p := NewParser(func(ev *Event) {
			got = append(got, gotEvent{string(ev.Type), string(ev.Data), string(ev.ID)})
		})
		// Feed in pieces whose sizes come from split, so that every line end
		// and BOM can land on a piece boundary.
		step := int(split%17) + 1
		for b := input; len(b) > 0; {
			n := min(step, len(b))
			if err := p.Feed(b[:n]); err != nil {
				t.Fatalf("Feed: %v", err)
			}
			b = b[n:]
			step = step*5%17 + 1
		}
		if len(got) != len(wantEv) || (len(got) > 0 && !reflect.DeepEqual(got, wantEv)) {
			t.Fatalf("events:\n got %q\nwant %q", got, wantEv)
		}
		if string(p.LastEventID()) != wantID {
			t.Fatalf("last event id %q, want %q", p.LastEventID(), wantID)
		}
		r, ok := p.Retry()
		if ok != wantRetrySet || (ok && r != time.Duration(wantRetry)*time.Millisecond) {
			t.Fatalf("retry %v %v, want %v %v", r, ok, wantRetry, wantRetrySet)
		}
		if bytes.Contains(p.LastEventID(), []byte{0}) {
			t.Fatal("last event id holds NUL")
		}
		// Whole, so that the fast path sees complete events.
		whole, _ := collect(t, string(input))
		if len(whole) != len(wantEv) || (len(whole) > 0 && !reflect.DeepEqual(whole, wantEv)) {
			t.Fatalf("events fed whole:\n got %q\nwant %q", whole, wantEv)
		}
	})
}

// TestParserFastPathMatchesReference feeds streams made mostly of events in
// the fast path's shape, mixed with near misses of it, in random pieces:
// both paths must agree with the spec's algorithm.
func TestParserFastPathMatchesReference(t *testing.T) {
	parts := []func(r *rand.Rand) string{
		func(r *rand.Rand) string {
			return "id: e-" + strconv.Itoa(r.Intn(1e6)) + "/t\ndata: rc1|" + strings.Repeat("x", r.Intn(40)) + "\n\n"
		},
		func(r *rand.Rand) string {
			return "id: " + strconv.Itoa(r.Intn(9)) + "\nevent: ev" + strconv.Itoa(r.Intn(3)) + "\ndata: d\n\n"
		},
		func(r *rand.Rand) string { return "id: \ndata: \n\n" },             // empty id and data
		func(r *rand.Rand) string { return "id: n\x00ul\ndata: x\n\n" },     // ignored id
		func(r *rand.Rand) string { return "id: a\ndata: b\ndata: c\n\n" },  // two data lines
		func(r *rand.Rand) string { return "id: a\ndata: b\n" },             // no blank line yet
		func(r *rand.Rand) string { return "id:b\ndata:c\n\n" },             // no spaces
		func(r *rand.Rand) string { return "id: c\r\ndata: d\r\n\r\n" },     // CRLF
		func(r *rand.Rand) string { return "event: e\nid: f\ndata: g\n\n" }, // another order
		func(r *rand.Rand) string { return ": keep-alive\n\n" },
		func(r *rand.Rand) string { return "retry: " + strconv.Itoa(r.Intn(5000)) + "\n" },
		func(r *rand.Rand) string { return "data: " + strings.Repeat("y", r.Intn(70)) + "\n\n" },
		func(r *rand.Rand) string { return "id: long\ndata: " + strings.Repeat("z", 60+r.Intn(30)) + "\n\n" },
	}
	f := func(seed int64) bool {
		r := rand.New(rand.NewSource(seed))
		var sb strings.Builder
		for range r.Intn(40) {
			sb.WriteString(parts[r.Intn(len(parts))](r))
		}
		input := sb.String()
		wantEv, ref := reference([]byte(input))
		wantID := ref.LastEventID()
		type outcome struct {
			events []gotEvent
			lastID string
			err    error
		}
		var outs [2]outcome
		for i, lineByLine := range []bool{false, true} {
			o := &outs[i]
			p := NewParser(func(ev *Event) {
				o.events = append(o.events, gotEvent{string(ev.Type), string(ev.Data), string(ev.ID)})
			})
			p.MaxEventBytes = 80 // some lines, or data buffers, pass it
			p.lineByLine = lineByLine
			for b := []byte(input); len(b) > 0 && o.err == nil; {
				n := min(len(b), 1+r.Intn(400))
				o.err = p.Feed(b[:n])
				b = b[n:]
			}
			o.lastID = string(p.LastEventID())
		}
		fast, slow := outs[0], outs[1]
		// Over the limit both paths must fail alike, after the same events,
		// which the spec's algorithm (which has no limit) dispatched first.
		if !errors.Is(fast.err, slow.err) || (slow.err != nil && !errors.Is(slow.err, ErrEventTooLarge)) ||
			!slices.Equal(fast.events, slow.events) ||
			len(slow.events) > len(wantEv) || !slices.Equal(slow.events, wantEv[:len(slow.events)]) {
			t.Logf("seed %d:\nfast %q, %v\nline by line %q, %v\nspec %q", seed, fast.events, fast.err, slow.events, slow.err, wantEv)
			return false
		}
		for _, line := range strings.FieldsFunc(input, func(c rune) bool { return c == '\n' || c == '\r' }) {
			if len(line) > 80 && slow.err == nil {
				t.Logf("seed %d: a line of %d bytes passed the limit of 80", seed, len(line))
				return false
			}
		}
		if slow.err == nil && (len(slow.events) != len(wantEv) || fast.lastID != wantID || slow.lastID != wantID) {
			t.Logf("seed %d: events %q, last ids %q %q; spec %q, %q", seed, slow.events, fast.lastID, slow.lastID, wantEv, wantID)
			return false
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 3000}); err != nil {
		t.Fatal(err)
	}
}
