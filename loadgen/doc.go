// Package loadgen drives a Server-Sent Events server over real sockets and
// measures, honestly, what its subscribers received and when.
//
// A run (Run, Config) opens N subscriber connections from loopback source
// addresses, waits until every one has received a warm-up event, then
// publishes on a fixed open-loop schedule: every event carries its topic,
// its sequence in that topic and its intended send time (AppendPayload), so
// latency is measured from when the event should have been sent, whatever
// the server did to the publisher (no coordinated omission), and every gap,
// duplicate and silent loss is found from the sequences. Latencies go into
// per-subscriber HdrHistograms, merged per interval without a lock per event.
//
// The subscribers parse the stream with Parser, a complete WHATWG
// event-stream parser that allocates nothing per event. Scenarios cover steady
// load, bursts, slow or stalled readers, reconnecting readers that resume
// with Last-Event-ID, and idle connections (server memory per connection).
// Results (Result) are data: they print as a table or JSON, and the package
// links no chart or profile code (`ringcast loadgen --html` draws its page
// with the report tool, cmd/ringcast-report). `ringcast loadgen` is the
// command line; `ringcast e2e` runs `ringcast serve` under it (`make
// bench-e2e`). docs/loadgen.md has the details.
package loadgen
