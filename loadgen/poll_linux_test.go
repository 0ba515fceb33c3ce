//go:build linux

package loadgen_test

import (
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringcast/ringcast/internal/lgtest"
	"github.com/ringcast/ringcast/internal/ssetest"
	"github.com/ringcast/ringcast/loadgen"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// The epoll reader counts exactly what the goroutine reader counts, against a
// server that drops events with a lagged notice and closes every stream
// three times mid-run (a resume with Last-Event-ID each time), and leaves no
// goroutine and no descriptor behind.
func TestEpollReaderMatchesGoroutineReader(t *testing.T) {
	// Start Go's netpoller (its descriptors live as long as the process)
	// before counting descriptors.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	fds := openFDs(t)
	opts := ssetest.Options{
		Drop: dropSeq3, NotifyDrops: true,
		CloseAfter: func(_ uint64, data []byte) bool {
			st, ok := loadgen.DecodePayload(data)
			return ok && !st.Warmup && st.Seq%50 == 25
		},
	}
	const subs = 12
	results := map[string]*loadgen.Result{}
	for _, reader := range []string{loadgen.ReaderGoroutine, loadgen.ReaderEpoll} {
		srv, err := ssetest.Start(opts)
		if err != nil {
			t.Fatal(err)
		}
		res := lgtest.Run(t, loadgen.Config{
			URL: srv.URL, Reader: reader, Subscribers: subs, Topics: 2, Rate: 600, Duration: 500 * time.Millisecond,
		})
		srv.Close()
		results[reader] = res
		// 300 events over 2 topics: sequences 0..149 on each. 15 of them
		// end in 3 and are dropped (notified); the streams close after 25,
		// 75 and 125.
		st := lgtest.Class(t, res, "steady")
		if res.Expected != subs*150 || res.Delivered != subs*135 || res.GapEvents != subs*15 || st.Gaps != subs*15 ||
			res.Lagged != subs*15 || res.SilentGapEvents != 0 || res.Duplicates != 0 || res.Reconnects != subs*3 ||
			res.Latency.Count != res.Delivered || res.Foreign != 0 {
			t.Errorf("%s reader: expected %d delivered %d gaps %d/%d lagged %d silent %d dups %d reconnects %d latency n %d foreign %d",
				reader, res.Expected, res.Delivered, st.Gaps, res.GapEvents, res.Lagged, res.SilentGapEvents, res.Duplicates,
				res.Reconnects, res.Latency.Count, res.Foreign)
		}
		if res.Client.Reader != reader {
			t.Errorf("ran the %q reader, asked for %q", res.Client.Reader, reader)
		}
	}
	g, e := results[loadgen.ReaderGoroutine], results[loadgen.ReaderEpoll]
	if gs, es := lgtest.Class(t, g, "steady"), lgtest.Class(t, e, "steady"); gs.Delivered != es.Delivered ||
		gs.Gaps != es.Gaps || gs.GapEvents != es.GapEvents || gs.Duplicates != es.Duplicates ||
		gs.Lagged != es.Lagged || gs.Skipped != es.Skipped || gs.Reconnects != es.Reconnects || gs.Lost != es.Lost {
		t.Errorf("readers disagree:\ngoroutine %+v\nepoll     %+v", gs, es)
	}
	// The loops timestamp their reads; goroutines read at read time.
	if e.Client.ReadDelay.Count == 0 || g.Client.ReadDelay.Count != 0 {
		t.Errorf("read delays recorded: epoll %d, goroutine %d; want some, none", e.Client.ReadDelay.Count, g.Client.ReadDelay.Count)
	}
	// Every connection, reconnects included, was read by a loop.
	if e.Client.EventLoops < 1 || e.Client.LoopStreams != subs*4 || g.Client.LoopStreams != 0 {
		t.Errorf("event loops %d read %d streams (want %d); goroutine reader's loops read %d",
			e.Client.EventLoops, e.Client.LoopStreams, subs*4, g.Client.LoopStreams)
	}
	goleak.VerifyNone(t)
	if n := openFDs(t); n != fds {
		t.Errorf("%d descriptors open after the runs, %d before", n, fds)
	}
}

// Slow and churning subscribers read in goroutines under the epoll reader;
// the steady ones of the same run go to the loops.
func TestEpollReaderLeavesSpecialClassesToGoroutines(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{})
	res := lgtest.Run(t, loadgen.Config{
		URL: srv.URL, Reader: loadgen.ReaderEpoll, Scenario: loadgen.ScenarioSlow, Subscribers: 8, SlowFraction: 0.25,
		SlowMode: "stall", Rate: 200, Duration: 300 * time.Millisecond,
	})
	if res.Client.LoopStreams != 6 {
		t.Fatalf("loops read %d streams, want the 6 steady ones", res.Client.LoopStreams)
	}
	if st := lgtest.Class(t, res, "steady"); st.Lost != 0 || st.Delivered != 6*60 {
		t.Fatalf("steady lost %d delivered %d", st.Lost, st.Delivered)
	}
}
