package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ringcast/ringcast/loadgen"
	"github.com/ringcast/ringcast/loadgen/internal/lgtest"
	"github.com/ringcast/ringcast/transport"
)

// These tests run the whole load generator against the real ringcast server,
// in-process (transport.Server on 127.0.0.1): both engines, the HTTP and the
// in-process publish paths, churn with resume, slow subscribers on a small ring.

// startRingcast runs the real ringcast server in-process on 127.0.0.1.
func startRingcast(t *testing.T, cfg transport.Config) (*transport.Server, string) {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := transport.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Shutdown's own contract is transport's to test; here it only
		// has to end the server.
		if err := srv.Shutdown(ctx); err != nil {
			t.Logf("Shutdown: %v", err)
		}
		<-served
	})
	return srv, "http://" + ln.Addr().String()
}

func TestAgainstRingcastEngines(t *testing.T) {
	for _, engine := range []transport.Engine{transport.EngineRing, transport.EngineChan} {
		t.Run(string(engine), func(t *testing.T) {
			_, url := startRingcast(t, transport.Config{Engine: engine, KeepAlive: time.Second})
			res := lgtest.Run(t, loadgen.Config{
				URL: url, Subscribers: 20, Topics: 2, Rate: 400, Duration: 500 * time.Millisecond,
				MetricsURL: url + "/metrics",
			})
			if res.Expected != 20*100 || res.Delivered != res.Expected || res.GapEvents != 0 || !res.LossFree() {
				t.Fatalf("expected %d delivered %d gaps %d", res.Expected, res.Delivered, res.GapEvents)
			}
			// The server's own counters, read from /metrics, agree.
			if res.Server == nil || len(res.Server.Counters) == 0 {
				t.Fatalf("no server counters: %+v", res.Server)
			}
		})
	}
}

// The in-process publish path (transport.Server.Publish) through a
// PublisherFunc, and resume across churn inside the server's window.
func TestAgainstRingcastChurnInProcessPublish(t *testing.T) {
	srv, url := startRingcast(t, transport.Config{Retry: 10 * time.Millisecond})
	pub := loadgen.PublisherFunc(func(_ context.Context, batch []loadgen.Message) error {
		evs := make([]transport.Event, len(batch))
		for i, m := range batch {
			evs[i] = transport.Event{Topic: m.Topic, Data: append([]byte(nil), m.Data...)}
		}
		_, err := srv.Publish(evs...)
		return err
	})
	res := lgtest.Run(t, loadgen.Config{
		URL: url, Publisher: pub, Scenario: loadgen.ScenarioChurn, Subscribers: 10, ChurnFraction: 0.5,
		ChurnEvery: 150 * time.Millisecond, Rate: 500, Duration: time.Second, Seed: 3,
	})
	churn := lgtest.Class(t, res, "churn")
	if churn.Churns == 0 {
		t.Fatal("no churn")
	}
	if res.Lost != 0 || res.GapEvents != 0 || res.Duplicates != 0 || res.Delivered != 10*500 {
		t.Fatalf("lost %d gaps %d dups %d delivered %d", res.Lost, res.GapEvents, res.Duplicates, res.Delivered)
	}
}

// Stalled subscribers overrun a small ring: they must be told (lagged), never
// lose events silently, and the steady subscribers must not lose anything.
//
// The rings hold 256 events, a quarter second at this rate: with 64, a steady
// subscriber whose event loop was held off the CPU for 64 ms lost events in a
// full parallel `make test` (once in ~20 runs). The trickling subscribers'
// loss comes from their socket buffers either way (they are never lagged
// within the second, at 64 as at 256).
func TestAgainstRingcastSlowSubscribers(t *testing.T) {
	_, url := startRingcast(t, transport.Config{TopicCapacity: 256, Capacity: 256, WriteTimeout: 200 * time.Millisecond})
	res := lgtest.Run(t, loadgen.Config{
		URL: url, Scenario: loadgen.ScenarioSlow, Subscribers: 10, SlowFraction: 0.2, SlowMode: "trickle",
		SlowReadBytes: 256, SlowReadInterval: 50 * time.Millisecond, Rate: 1000, Duration: time.Second,
	})
	steady, slow := lgtest.Class(t, res, "steady"), lgtest.Class(t, res, "slow")
	if steady.Lost != 0 || steady.SilentGapEvents != 0 {
		t.Fatalf("steady subscribers lost %d (silent %d)", steady.Lost, steady.SilentGapEvents)
	}
	if slow.Lost == 0 {
		t.Fatal("trickling subscribers kept up with 1000 events/s of 128 B: the test does not test")
	}
	if slow.SilentGapEvents != 0 {
		t.Fatalf("slow subscribers lost %d events without a lagged or reset notice", slow.SilentGapEvents)
	}
}
