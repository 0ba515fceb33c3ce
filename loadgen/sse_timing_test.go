package loadgen

import (
	"strings"
	"testing"
)

// A 128-byte ringcast event frame, as the server writes it.
var benchFrame = []byte("id: k3v9x2qa-1234567\ndata: " + string(AppendPayload(nil, Stamp{Seq: 42, IntendedNs: 1e9}, 128)) + "\n\n")

func BenchmarkParserFeed(b *testing.B) {
	for _, batch := range []int{1, 16} {
		buf := []byte(strings.Repeat(string(benchFrame), batch))
		for _, path := range []string{"fast", "line-by-line"} {
			b.Run(map[int]string{1: "one-event-per-read", 16: "16-events-per-read"}[batch]+"/"+path, func(b *testing.B) {
				n := 0
				p := NewParser(func(ev *Event) { n += len(ev.Data) })
				p.lineByLine = path == "line-by-line"
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				for b.Loop() {
					p.Feed(buf)
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

func BenchmarkDecodePayload(b *testing.B) {
	data := AppendPayload(nil, Stamp{Topic: 1, Seq: 2, IntendedNs: 3}, 128)
	b.ReportAllocs()
	for b.Loop() {
		DecodePayload(data)
	}
}

// BenchmarkSubscriberEvent is the whole per-event cost on the client after the
// socket read: parse, decode, sequence check, latency record. "goroutine"
// records into the subscriber's sparse histogram (the goroutine reader),
// "loop" into an event loop's dense one (the epoll reader).
func BenchmarkSubscriberEvent(b *testing.B) {
	for _, recorder := range []string{"goroutine", "loop"} {
		b.Run(recorder, func(b *testing.B) {
			env := &subscriberEnv{measure: new(measurement), coll: newCollector(), intervalNs: 1e9}
			s := &subscriber{env: env, next: make([]uint64, 1), noticesSeen: make([]uint64, 1), hist: newPacked()}
			if recorder == "loop" {
				s.rec = &denseRecorder{coll: env.coll}
			}
			s.parser = NewParser(s.onEvent)
			frames := make([][]byte, 1024)
			for i := range frames {
				frames[i] = []byte("id: e-1\ndata: " + string(AppendPayload(nil, Stamp{Seq: uint64(i), IntendedNs: int64(i) * 1000}, 128)) + "\n\n")
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == len(frames) {
					i = 0
					s.next[0] = 0
				}
				s.recvNs = int64(i)*1000 + int64(i%97)*10_000
				s.parser.Feed(frames[i])
				i++
			}
		})
	}
}
