package transport

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkPublishHTTP: POST /publish over one keep-alive loopback
// connection, a request at a time: one event of 1 KiB as JSON, and a batch
// of 256 such events as NDJSON. It measures the request path (reading the
// body, parsing, publishing) with no subscriber.
func BenchmarkPublishHTTP(b *testing.B) {
	event := `{"topic":"bench","data":"` + strings.Repeat("x", 1000) + `"}`
	for _, tc := range []struct {
		name, ctype, body string
		events            int
	}{
		{"json-1KiB", "application/json", event, 1},
		{"ndjson-256x1KiB", "application/x-ndjson", strings.Repeat(event+"\n", 256), 256},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ts := startServer(b, Config{Capacity: 1 << 12})
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("POST /publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + tc.ctype +
				"\r\nContent-Length: " + strconv.Itoa(len(tc.body)) + "\r\n\r\n" + tc.body)
			br := bufio.NewReader(c)
			b.SetBytes(int64(len(tc.body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tc.events), "ns/event")
		})
	}
}
