package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ringcast/ringcast/internal/lgtest"
	"github.com/ringcast/ringcast/internal/report/proftop"
	"github.com/ringcast/ringcast/internal/ssetest"
	"github.com/ringcast/ringcast/loadgen"
)

// Every run here is bounded in events (rate × duration) and in time (the
// test's context, DrainTimeout).

func TestSteadyDeliversExactly(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{})
	res := lgtest.Run(t, loadgen.Config{
		URL: srv.URL, Subscribers: 20, Topics: 2, Rate: 400, Duration: time.Second, Payload: 96,
	})
	// 400 events over 2 topics: each subscriber expects its topic's 200.
	if res.Published != 400 || res.Expected != 20*200 {
		t.Fatalf("published %d expected %d, want 400 and 4000", res.Published, res.Expected)
	}
	if res.Delivered != res.Expected || res.Lost != 0 || res.GapEvents != 0 || res.Duplicates != 0 {
		t.Fatalf("delivered %d of %d, lost %d, gaps %d, dups %d", res.Delivered, res.Expected, res.Lost, res.GapEvents, res.Duplicates)
	}
	if res.Latency.Count != res.Delivered {
		t.Fatalf("latency recorded %d times for %d deliveries", res.Latency.Count, res.Delivered)
	}
	if res.PublishRTT.Count != res.PublishCalls || res.PublishRTT.P50Ms <= 0 || res.PublishRTT.MaxMs < res.PublishRTT.P99Ms {
		t.Fatalf("publish round trips %+v for %d calls", res.PublishRTT, res.PublishCalls)
	}
	if !res.LossFree() || res.Ready != 20 || res.PeakConnected != 20 {
		t.Fatalf("loss-free %v ready %d peak %d", res.LossFree(), res.Ready, res.PeakConnected)
	}
	if res.Latency.P50Ms <= 0 || res.Latency.MaxMs < res.Latency.P99Ms {
		t.Fatalf("implausible latency %+v", res.Latency)
	}
	if len(res.LatencySeries) == 0 || len(res.Spectrum) == 0 {
		t.Fatal("no latency series or spectrum")
	}
	// A 1 ms hiccup meter over a 1 s phase: hundreds of samples.
	if res.Client.Hiccup.Count < 100 {
		t.Fatalf("hiccup meter recorded %d wake-ups", res.Client.Hiccup.Count)
	}
}

func TestAllTopicsAndBurst(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{})
	res := lgtest.Run(t, loadgen.Config{
		URL: srv.URL, Scenario: loadgen.ScenarioBurst, Subscribers: 6, Topics: 3, AllTopics: true,
		Rate: 300, Duration: time.Second, BurstEvery: 250 * time.Millisecond,
	})
	if res.Expected != 6*300 || res.Delivered != res.Expected || res.GapEvents != 0 {
		t.Fatalf("expected %d delivered %d gaps %d, want 1800 each and no gap", res.Expected, res.Delivered, res.GapEvents)
	}
	// Four bursts of 75 events, each burst's events all due at once.
	if res.PublishCalls > 40 {
		t.Fatalf("%d publish calls for 4 bursts", res.PublishCalls)
	}
}

// dropSeq3 drops, on every stream, the measured events whose sequence in
// their topic ends in 3.
func dropSeq3(_ uint64, data []byte) bool {
	st, ok := loadgen.DecodePayload(data)
	return ok && !st.Warmup && st.Seq%10 == 3
}

func TestGapsCountedWhenServerDrops(t *testing.T) {
	for _, notify := range []bool{false, true} {
		name := "silent"
		if notify {
			name = "notified"
		}
		t.Run(name, func(t *testing.T) {
			srv := lgtest.Serve(t, ssetest.Options{Drop: dropSeq3, NotifyDrops: notify})
			res := lgtest.Run(t, loadgen.Config{
				URL: srv.URL, Subscribers: 8, Rate: 500, Duration: 200 * time.Millisecond,
			})
			// 100 events (sequences 0..99): 10 end in 3, none of them the last.
			const drops = 10
			if res.Expected != 8*100 || res.Lost != 8*drops || res.GapEvents != 8*drops || res.Delivered != 8*(100-drops) {
				t.Fatalf("expected %d lost %d gap events %d delivered %d", res.Expected, res.Lost, res.GapEvents, res.Delivered)
			}
			st := lgtest.Class(t, res, "steady")
			if st.Gaps != 8*drops || st.SubscribersLosing != 8 || st.MaxLost != drops {
				t.Fatalf("gaps %d, losing %d, max lost %d; want %d, 8, %d", st.Gaps, st.SubscribersLosing, st.MaxLost, 8*drops, drops)
			}
			wantSilent, wantLagged := int64(8*drops), int64(0)
			if notify {
				wantSilent, wantLagged = 0, 8*drops
			}
			if res.SilentGapEvents != wantSilent || res.Lagged != wantLagged || res.Skipped != wantLagged {
				t.Fatalf("silent %d lagged %d skipped %d, want %d %d %d", res.SilentGapEvents, res.Lagged, res.Skipped, wantSilent, wantLagged, wantLagged)
			}
			if res.LossFree() {
				t.Fatal("a lossy run reported loss-free")
			}
		})
	}
}

// A lagged notice after which the run ends has no gap yet: its count is
// skipped but pending, so that Skipped - SkippedPending = GapEvents.
func TestSkippedPendingWhenTheRunEndsAfterANotice(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{
		Drop: func(_ uint64, data []byte) bool {
			st, ok := loadgen.DecodePayload(data)
			return ok && !st.Warmup && (st.Seq == 3 || st.Seq == 99)
		},
		NotifyDrops: true,
	})
	// 100 events (sequences 0..99): the last is dropped, so the drain waits
	// for it in vain, all of DrainTimeout, which is what the last notice has
	// to arrive in.
	res := lgtest.Run(t, loadgen.Config{
		URL: srv.URL, Subscribers: 2, Rate: 500, Duration: 200 * time.Millisecond, DrainTimeout: time.Second,
	})
	st := lgtest.Class(t, res, "steady")
	if st.Lagged != 2*2 || st.Skipped != 2*2 || st.SkippedPending != 2*1 || st.GapEvents != 2*1 || st.SilentGapEvents != 0 {
		t.Fatalf("lagged %d skipped %d pending %d gap events %d silent %d; want 4 4 2 2 0",
			st.Lagged, st.Skipped, st.SkippedPending, st.GapEvents, st.SilentGapEvents)
	}
	var text strings.Builder
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if want := "lagged 4 (skipped 4, 2 of them after the last event)"; !strings.Contains(text.String(), want) {
		t.Fatalf("the report lacks %q:\n%s", want, text.String())
	}
}

// A server that stalls must show in the latency of every event that was due
// while it stalled, not only the one the publisher was blocked on: latency is
// taken from the intended send time.
func TestLatencyFromIntendedTimeWhenServerStalls(t *testing.T) {
	const stall = 300 * time.Millisecond
	srv := lgtest.Serve(t, ssetest.Options{
		StallFor: stall,
		StallIf: func(data []byte) bool {
			st, ok := loadgen.DecodePayload(data)
			return ok && !st.Warmup && st.Seq == 200
		},
	})
	res := lgtest.Run(t, loadgen.Config{URL: srv.URL, Subscribers: 4, Rate: 500, Duration: 1200 * time.Millisecond})
	if res.Delivered != res.Expected || res.Expected != 4*600 {
		t.Fatalf("delivered %d of %d", res.Delivered, res.Expected)
	}
	// The events due during the stall (about 150 of 600) waited for it, up to
	// its whole length: well over 10% of the deliveries are late by 50 ms or
	// more. A closed-loop measurement would show one slow event.
	if res.Latency.MaxMs < float64(stall.Milliseconds())*0.8 {
		t.Fatalf("max latency %.1fms, want about %v", res.Latency.MaxMs, stall)
	}
	if res.Latency.P90Ms < 50 {
		t.Fatalf("p90 %.1fms: the stall is missing from the events due during it", res.Latency.P90Ms)
	}
	if res.PublishLagMaxMs < float64(stall.Milliseconds())*0.8 {
		t.Fatalf("publisher lag %.1fms, want about %v", res.PublishLagMaxMs, stall)
	}
	// The stalled publish's answer waited for the stall.
	if res.PublishRTT.MaxMs < float64(stall.Milliseconds())*0.8 {
		t.Fatalf("publish round trip at most %.1fms, want about %v", res.PublishRTT.MaxMs, stall)
	}
}

func TestSlowSubscribersReportedApart(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{})
	res := lgtest.Run(t, loadgen.Config{
		URL: srv.URL, Scenario: loadgen.ScenarioSlow, Subscribers: 8, SlowFraction: 0.25, SlowMode: "stall",
		Rate: 200, Duration: 500 * time.Millisecond,
	})
	steady, slow := lgtest.Class(t, res, "steady"), lgtest.Class(t, res, "slow")
	if steady.Subscribers != 6 || slow.Subscribers != 2 {
		t.Fatalf("classes %d/%d, want 6/2", steady.Subscribers, slow.Subscribers)
	}
	if steady.Lost != 0 || steady.Delivered != 6*100 {
		t.Fatalf("steady subscribers lost %d, delivered %d", steady.Lost, steady.Delivered)
	}
	// The stalled ones stopped reading when measurement began.
	if slow.Delivered >= slow.Expected {
		t.Fatalf("stalled subscribers received everything (%d of %d)", slow.Delivered, slow.Expected)
	}
	if steady.Latency.Count != steady.Delivered {
		t.Fatalf("steady latency count %d", steady.Latency.Count)
	}
}

func TestChurnResumesWithoutLoss(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{})
	res := lgtest.Run(t, loadgen.Config{
		URL: srv.URL, Scenario: loadgen.ScenarioChurn, Subscribers: 8, ChurnFraction: 0.5, ChurnEvery: 150 * time.Millisecond,
		Rate: 400, Duration: time.Second, Seed: 1,
	})
	churn := lgtest.Class(t, res, "churn")
	if churn.Churns < 4 || churn.Reconnects < churn.Churns {
		t.Fatalf("churns %d reconnects %d: the churning subscribers did not churn", churn.Churns, churn.Reconnects)
	}
	if res.Lost != 0 || res.GapEvents != 0 || res.Duplicates != 0 || res.Delivered != 8*400 {
		t.Fatalf("lost %d gaps %d dups %d delivered %d", res.Lost, res.GapEvents, res.Duplicates, res.Delivered)
	}
}

// A resume outside the server's window is a reset, and what was lost then is
// loss the client was told about, not silent loss.
func TestChurnOutsideWindowIsReported(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{Window: 4})
	res := lgtest.Run(t, loadgen.Config{
		URL: srv.URL, Scenario: loadgen.ScenarioChurn, Subscribers: 4, ChurnFraction: 1, ChurnEvery: 100 * time.Millisecond,
		ChurnOffline: 50 * time.Millisecond, Rate: 1000, Duration: 600 * time.Millisecond, Seed: 2,
		DrainTimeout: 300 * time.Millisecond,
	})
	churn := lgtest.Class(t, res, "churn")
	// Away 50 ms at 1000 events/s against a window of 4: every resume while
	// events flow is too old. (Resumes after the last event are not.)
	if churn.Churns == 0 || churn.Resets == 0 {
		t.Fatalf("churns %d resets %d: resumes should be resets", churn.Churns, churn.Resets)
	}
	// Loss at the very end (while away) is not a gap yet; all else is.
	if churn.GapEvents == 0 || churn.Lost < churn.GapEvents {
		t.Fatalf("gap events %d lost %d", churn.GapEvents, churn.Lost)
	}
	if churn.SilentGapEvents != 0 {
		t.Fatalf("%d events lost without a reset or lagged notice", churn.SilentGapEvents)
	}
}

func TestIdleMeasuresServerMemory(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{KeepAlive: 50 * time.Millisecond, Admin: true})
	res := lgtest.Run(t, loadgen.Config{
		URL: srv.URL, Scenario: loadgen.ScenarioIdle, Subscribers: 40, Duration: 300 * time.Millisecond,
		ServerPID: os.Getpid(), SourceAddrs: 4, IdleGC: true, AdminURL: srv.AdminURL,
	})
	if res.Idle == nil || res.Idle.ConnectionsHeld != 40 || res.Idle.RSSAfter <= 0 {
		t.Fatalf("idle result %+v", res.Idle)
	}
	// The test server is this process: its heap and stacks grow with the
	// 40 streams' goroutines and buffers (and the client's, in the same heap).
	if res.Idle.LiveAfter <= res.Idle.LiveBefore || res.Idle.LiveBytesPerConn <= 0 {
		t.Fatalf("live memory %d -> %d (%.0f per connection)", res.Idle.LiveBefore, res.Idle.LiveAfter, res.Idle.LiveBytesPerConn)
	}
	if res.Server == nil || res.Server.Error != "" || res.Server.RSSPeak <= 0 {
		t.Fatalf("server stats %+v", res.Server)
	}
	ips := srv.RemoteIPs()
	if len(ips) != 4 {
		t.Fatalf("connections came from %v, want 4 loopback addresses", ips)
	}
	for ip := range ips {
		if !strings.HasPrefix(ip, "127.0.0.") {
			t.Fatalf("source address %s is not loopback", ip)
		}
	}
}

func TestProfilesFromAdminListener(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{Admin: true})
	dir := t.TempDir()
	res := lgtest.Run(t, loadgen.Config{
		URL: srv.URL, Subscribers: 4, Rate: 200, Duration: 1500 * time.Millisecond,
		Profile: true, AdminURL: srv.AdminURL, ProfileSeconds: time.Second, ProfileDir: dir, ProfileTop: 5,
	})
	if len(res.Profiles) != 2 {
		t.Fatalf("profiles: %+v", res.Profiles)
	}
	for _, p := range res.Profiles {
		if p.Error != "" {
			t.Fatalf("%s profile: %s", p.Kind, p.Error)
		}
		if _, err := os.Stat(p.Saved); err != nil {
			t.Fatalf("%s profile not saved: %v", p.Kind, err)
		}
	}
	heap := res.Profiles[1]
	if heap.Kind != "heap" || heap.SampleType != "inuse_space" || len(heap.Raw) == 0 {
		t.Fatalf("heap profile %+v", heap)
	}
	// Raw is the profile as served: what the CLI summarises.
	top, err := proftop.ComputeRaw(heap.Raw, heap.SampleType)
	if err != nil || top.Total <= 0 || len(top.ByCum) == 0 {
		t.Fatalf("heap profile does not parse: %+v %v", top, err)
	}
}

func TestReports(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{})
	res := lgtest.Run(t, loadgen.Config{URL: srv.URL, Subscribers: 3, Rate: 200, Duration: 600 * time.Millisecond})

	var js bytes.Buffer
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back loadgen.Result
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Delivered != res.Delivered || back.Latency != res.Latency {
		t.Fatalf("JSON round trip changed the result")
	}

	var txt bytes.Buffer
	res.WriteText(&txt)
	for _, want := range []string{"delivered", "latency", "p99"} {
		if !strings.Contains(txt.String(), want) {
			t.Fatalf("text report lacks %q:\n%s", want, txt.String())
		}
	}

}

func TestTemplatePublisher(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{})
	res := lgtest.Run(t, loadgen.Config{
		URL: srv.URL, Subscribers: 2, Rate: 100, Duration: 300 * time.Millisecond,
		PublishBody: `{"topic":"{topic}","event":"tick","data":{"payload":"{data}","seq":{seq}}}`, PublishContentType: "application/json",
	})
	// The server frames the data object as JSON; the payload is found inside it.
	if res.Expected != 2*30 || res.Delivered != res.Expected || res.Foreign != 0 {
		t.Fatalf("expected %d delivered %d foreign %d", res.Expected, res.Delivered, res.Foreign)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, cfg := range []loadgen.Config{
		{},
		{URL: "https://127.0.0.1:1"},
		{URL: "http://127.0.0.1:1", Scenario: "nope"},
		{URL: "http://127.0.0.1:1", Payload: 10},
		{URL: "http://127.0.0.1:1", SlowMode: "sometimes"},
		{URL: "http://127.0.0.1:1", SlowRecvBuffer: -1},
	} {
		if _, err := loadgen.Run(context.Background(), cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestRunFailsClearlyWithoutServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	_, err := loadgen.Run(ctx, loadgen.Config{URL: "http://127.0.0.1:1", Subscribers: 1, WarmupTimeout: 300 * time.Millisecond, MetricsURL: "off"})
	if err == nil || !strings.Contains(err.Error(), "publish") {
		t.Fatalf("err = %v, want a publish failure", err)
	}
}
