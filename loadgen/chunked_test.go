package loadgen

import (
	"bytes"
	"fmt"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
)

func decodeChunked(t testing.TB, in []byte, step int) ([]byte, bool, error) {
	t.Helper()
	var d chunkDecoder
	var out []byte
	for len(in) > 0 {
		n := min(step, len(in))
		if err := d.feed(in[:n], func(b []byte) error { out = append(out, b...); return nil }); err != nil {
			return out, d.done(), err
		}
		in = in[n:]
	}
	return out, d.done(), nil
}

func TestChunkDecoder(t *testing.T) {
	in := "5\r\nhello\r\n1;ext=1\r\n \r\nA \r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"
	for step := 1; step <= len(in); step++ {
		out, done, err := decodeChunked(t, []byte(in), step)
		if err != nil || !done || string(out) != "hello 0123456789" {
			t.Fatalf("step %d: %q done=%v err=%v", step, out, done, err)
		}
	}
	// Bare LF line ends are accepted.
	out, done, err := decodeChunked(t, []byte("3\nabc\n0\n\n"), 2)
	if err != nil || !done || string(out) != "abc" {
		t.Fatalf("LF: %q %v %v", out, done, err)
	}
	for _, bad := range []string{"x\r\n", "3\r\nabcX", "3\rabc", "ffffffffffffffff\r\n", "0\r\n\r\nmore"} {
		if _, _, err := decodeChunked(t, []byte(bad), 1); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// The decoder reads what net/http's chunked writer produces, however the bytes
// are split.
func TestChunkDecoderMatchesNetHTTP(t *testing.T) {
	var enc bytes.Buffer
	w := httputil.NewChunkedWriter(&enc)
	var want strings.Builder
	for i := 0; i < 50; i++ {
		s := strings.Repeat(fmt.Sprint(i%10), i*7%300+1)
		w.Write([]byte(s))
		want.WriteString(s)
	}
	w.Close()
	enc.WriteString("\r\n")
	for _, step := range []int{1, 3, 64, 4096} {
		out, done, err := decodeChunked(t, enc.Bytes(), step)
		if err != nil || !done || string(out) != want.String() {
			t.Fatalf("step %d: len %d done=%v err=%v", step, len(out), done, err)
		}
	}
}

func FuzzChunkDecoder(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint8(3))
	f.Add([]byte("1;a=b\r\nx\r\nFFFFFFFFFFFFFFF\r\n"), uint8(1))
	f.Add([]byte("3\nabc\n0\nT: 1\n\n"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		step := int(split%13) + 1
		out, done, err := decodeChunked(t, in, step)
		// Whatever the bytes, the decoder never emits more than it was given,
		// and a split never changes the outcome.
		if len(out) > len(in) {
			t.Fatalf("emitted %d bytes from %d", len(out), len(in))
		}
		out1, done1, err1 := decodeChunked(t, in, len(in)+1)
		if !bytes.Equal(out, out1) || done != done1 || (err == nil) != (err1 == nil) {
			t.Fatalf("split %d changed the result: %q/%v/%v vs %q/%v/%v", step, out, done, err, out1, done1, err1)
		}
		// What net/http accepts as a complete body, the decoder reads the same.
		ref, rerr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in)))
		if rerr == nil && err == nil && done && !bytes.Equal(ref, out) {
			t.Fatalf("net/http read %q, decoder %q", ref, out)
		}
	})
}
