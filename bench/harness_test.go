package bench

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/quick"
	"time"

	"go.uber.org/goleak"
)

// These tests check the harness itself: that what it reports is what
// happened. They run every registered strategy briefly, so they double as a
// smoke test of each adapter.

func runOrFail(t *testing.T, sc Scenario, events int) *Result {
	t.Helper()
	res, err := Run(sc, RunOptions{Events: events})
	if err != nil {
		t.Fatalf("%s: %v", sc, err)
	}
	return res
}

// strategiesFor lists the registered strategies that may run with n readers.
func strategiesFor(n int) []Strategy {
	var out []Strategy
	for _, s := range Strategies() {
		if s.MaxReaders == 0 || n <= s.MaxReaders {
			out = append(out, s)
		}
	}
	return out
}

func TestCountsAddUpWithFastConsumers(t *testing.T) {
	defer goleak.VerifyNone(t)
	const events = 3000
	for _, st := range strategiesFor(4) {
		for _, batch := range []int{1, 7} {
			sc := Scenario{Strategy: st.Name, Readers: 4, Batch: batch, Payload: 64, Consumers: AllFast, Capacity: 64}
			t.Run(sc.Name(), func(t *testing.T) {
				res := runOrFail(t, sc, events)
				var delivered, lost uint64
				for i, c := range res.Consumers {
					if c.Delivered+c.Abandoned+c.Lost != events {
						t.Errorf("consumer %d: %d delivered + %d abandoned + %d lost != %d published", i, c.Delivered, c.Abandoned, c.Lost, events)
					}
					if c.Abandoned != 0 {
						t.Errorf("consumer %d: fast consumer abandoned %d events", i, c.Abandoned)
					}
					delivered += c.Delivered
					lost += c.Lost
				}
				if st.Lossless {
					if res.Lossy() {
						t.Errorf("lossless strategy reported lossy: %d lost", lost)
					}
					if delivered != events*4 {
						t.Errorf("delivered %d, want %d", delivered, events*4)
					}
					if _, _, _, lat := res.Totals(true); lat.TotalCount() != events/SampleEvery*4 {
						t.Errorf("latency samples %d, want one per %d events per consumer = %d", lat.TotalCount(), SampleEvery, events/SampleEvery*4)
					}
				}
				assertMetricsAddUp(t, res)
			})
		}
	}
}

// assertMetricsAddUp checks the reported measures against the raw counts.
func assertMetricsAddUp(t *testing.T, res *Result) {
	t.Helper()
	got := map[string]float64{}
	for _, m := range res.Metrics() {
		got[m.Unit] = m.Value
	}
	var lost uint64
	for _, c := range res.Consumers {
		lost += c.Lost
	}
	want := float64(lost) / float64(res.Published*uint64(len(res.Consumers)))
	if got[UnitLoss] != want {
		t.Errorf("%s = %v, want %v", UnitLoss, got[UnitLoss], want)
	}
	if (got[UnitLoss] > 0) != res.Lossy() {
		t.Errorf("%s = %v but Lossy() = %v", UnitLoss, got[UnitLoss], res.Lossy())
	}
	if got[UnitPublishRate] <= 0 || got[UnitDeliveryRate] <= 0 {
		t.Errorf("rates must be positive: %v", got)
	}
}

// A stalled consumer must cost a lossy strategy events (and the harness must
// say so), and a lossless one nothing: block and the disruptor hold the
// publisher back until the stall ends, unbounded buffers.
func TestStalledConsumerLossIsReported(t *testing.T) {
	defer goleak.VerifyNone(t)
	const events, capacity = 2000, 16
	for _, st := range strategiesFor(4) {
		sc := Scenario{Strategy: st.Name, Readers: 4, Batch: 1, Payload: 64, Consumers: OneStalled, Capacity: capacity,
			StallLimit: 50 * time.Millisecond}
		if !st.Lossless {
			// A lossy strategy never needs the stall limit; make sure it is
			// not what ends the stall, so the stall spans the whole run.
			sc.StallLimit = time.Hour
		}
		t.Run(sc.Name(), func(t *testing.T) {
			res := runOrFail(t, sc, events)
			stalled := res.Consumers[0]
			if stalled.Class != Stalled {
				t.Fatalf("consumer 0 is %s, want stalled", stalled.Class)
			}
			if st.Lossless {
				if stalled.Lost != 0 || res.Lossy() {
					t.Errorf("lossless strategy lost %d events for the stalled consumer", stalled.Lost)
				}
				if stalled.Delivered+stalled.Abandoned != events {
					t.Errorf("stalled consumer got %d+%d events, want %d", stalled.Delivered, stalled.Abandoned, events)
				}
				return
			}
			if res.Released {
				t.Fatal("the stall limit ended the stall; the run should have")
			}
			// The stalled consumer took one batch (up to recvBatch: its
			// receive loop drains while the publisher refills), then, at the
			// release, what the strategy held for it: a channel's capacity,
			// or a ring's, which keeps up to capacity+page-1 values.
			if most := recvBatch + 2*capacity; stalled.Lost < uint64(events-most) {
				t.Errorf("stalled consumer lost %d events, want at least %d", stalled.Lost, events-most)
			}
			if stalled.Lost != stalled.Reported {
				t.Errorf("lost %d, strategy reported %d", stalled.Lost, stalled.Reported)
			}
			var m map[string]float64 = map[string]float64{}
			for _, x := range res.Metrics() {
				m[x.Unit] = x.Value
			}
			if m[UnitSlowLoss] < 0.9 {
				t.Errorf("%s = %v, want > 0.9", UnitSlowLoss, m[UnitSlowLoss])
			}
		})
	}
}

// The gated strategies hold everyone back while one consumer stalls: the run
// ends only when the stall limit releases it.
func TestBlockStallsThePublisher(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, name := range []string{"chan-block", "disruptor"} {
		if _, ok := LookupStrategy(name); !ok {
			continue
		}
		sc := Scenario{Strategy: name, Readers: 3, Batch: 1, Payload: 64, Consumers: OneStalled, Capacity: 16, StallLimit: 30 * time.Millisecond}
		res := runOrFail(t, sc, 200)
		if !res.Released {
			t.Errorf("%s: the publisher finished while a consumer stalled with 200 events and 16 slots", name)
		}
		if res.PublishTime < sc.StallLimit {
			t.Errorf("%s: publishing took %v, less than the %v stall", name, res.PublishTime, sc.StallLimit)
		}
	}
}

// broken strategies: each wraps a correct channel fan-out and breaks one rule.
type brokenFanout struct {
	Fanout
	publish func(f Fanout, evs []Event)
}

func (b *brokenFanout) Publish(evs []Event) { b.publish(b.Fanout, evs) }

func brokenStrategy(name string, lossless bool, publish func(f Fanout, evs []Event)) Strategy {
	return Strategy{Name: name, Lossless: lossless, Open: func(cfg Config, sinks []*Sink) (Fanout, error) {
		f, err := openChan(cfg, sinks, block)
		if err != nil {
			return nil, err
		}
		return &brokenFanout{Fanout: f, publish: publish}, nil
	}}
}

func TestHarnessCatchesBrokenStrategies(t *testing.T) {
	defer goleak.VerifyNone(t)
	tornPayload := make([]byte, 64)
	cases := []struct {
		name     string
		lossless bool
		publish  func(f Fanout, evs []Event)
		want     string
	}{
		{"silent-drop", false, func(f Fanout, evs []Event) {
			for _, ev := range evs {
				if ev.Seq%10 != 0 { // loses every 10th event without telling anyone
					f.Publish([]Event{ev})
				}
			}
		}, "lost 30 events but the strategy reported 0"},
		{"lossless-that-drops", true, func(f Fanout, evs []Event) {
			for _, ev := range evs {
				if ev.Seq != 7 {
					f.Publish([]Event{ev})
				}
			}
		}, "lossless strategy lost 1 events"},
		{"duplicate", false, func(f Fanout, evs []Event) {
			f.Publish(evs)
			if evs[0].Seq == 5 {
				f.Publish(evs)
			}
		}, "out of order or repeated"},
		{"torn", false, func(f Fanout, evs []Event) {
			for _, ev := range evs {
				if ev.Seq == 9 {
					ev.Data = tornPayload
				}
				f.Publish([]Event{ev})
			}
		}, "torn payloads"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := brokenStrategy(c.name, c.lossless, c.publish)
			sc := Scenario{Strategy: c.name, Readers: 2, Batch: 1, Payload: 64, Consumers: AllFast, Capacity: 512}
			_, err := run(st, sc, RunOptions{Events: 300})
			if err == nil {
				t.Fatalf("harness accepted a %s strategy", c.name)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// Property: whatever the shape of the run, every consumer's counts add up and
// the strategy's reports match the gaps. Run finds violations itself.
func TestCountsAddUpProperty(t *testing.T) {
	defer goleak.VerifyNone(t)
	strats := strategiesFor(5)
	profiles := []Mix{AllFast, OneStalled, TenPctSlow}
	prop := func(si, readers, batch, capLog, events, pi uint8) bool {
		sc := Scenario{
			Strategy:   strats[int(si)%len(strats)].Name,
			Readers:    2 + int(readers)%4,
			Batch:      1 + int(batch)%9,
			Payload:    64,
			Consumers:  profiles[int(pi)%len(profiles)],
			Capacity:   1 << (int(capLog) % 7),
			StallLimit: 20 * time.Millisecond,
		}
		if st, _ := LookupStrategy(sc.Strategy); st.MaxReaders > 0 && sc.Readers > st.MaxReaders {
			sc.Readers = st.MaxReaders
		}
		res, err := Run(sc, RunOptions{Events: 1 + int(events)*2})
		if err != nil {
			t.Logf("%s: %v", sc, err)
			return false
		}
		return len(res.Consumers) == sc.Readers
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 25}); err != nil {
		t.Fatal(err)
	}
}

// A paced run keeps to its rate: it cannot finish before the schedule ends.
func TestPacedRunKeepsItsSchedule(t *testing.T) {
	defer goleak.VerifyNone(t)
	sc := Scenario{Strategy: "chan-block", Readers: 2, Batch: 4, Payload: 64, Consumers: AllFast, Rate: 20_000}
	const events = 400
	res := runOrFail(t, sc, events)
	if floor := time.Duration(events-sc.Batch) * time.Second / time.Duration(sc.Rate); res.PublishTime < floor {
		t.Errorf("published %d events at %d/s in %v, faster than the schedule's %v", events, sc.Rate, res.PublishTime, floor)
	}
	if res.PublishLate == nil || res.PublishLate.TotalCount() != events/int64(sc.Batch) {
		t.Errorf("publish lateness recorded %v times, want once per batch (%d)", res.PublishLate, events/sc.Batch)
	}
}

// MaxTime stops a run that would go on too long, and what went out still
// adds up.
func TestMaxTimeTruncatesARun(t *testing.T) {
	defer goleak.VerifyNone(t)
	sc := Scenario{Strategy: "chan-block", Readers: 2, Batch: 1, Payload: 64, Consumers: AllFast, Rate: 10_000}
	res, err := Run(sc, RunOptions{Events: 1 << 30, MaxTime: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || res.Published == 0 || res.Published > 10_000 {
		t.Fatalf("truncated %v after %d events: want a short run", res.Truncated, res.Published)
	}
	for i, c := range res.Consumers {
		if c.Delivered != res.Published {
			t.Errorf("consumer %d got %d of %d", i, c.Delivered, res.Published)
		}
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	good := Scenario{Strategy: "chan-block", Readers: 2, Batch: 1, Payload: 64, Consumers: AllFast}
	cases := []struct {
		edit func(*Scenario)
		want string
	}{
		{func(s *Scenario) { s.Strategy = "nope" }, `unknown strategy "nope"`},
		{func(s *Scenario) { s.Readers = 0 }, "readers must be at least 1"},
		{func(s *Scenario) { s.Batch = 0 }, "batch must be at least 1"},
		{func(s *Scenario) { s.Payload = 4 }, "payload must be at least 8"},
		{func(s *Scenario) { s.Consumers = "lazy" }, `unknown consumer profile "lazy"`},
		{func(s *Scenario) { s.Readers, s.Consumers = 1, OneStalled }, "needs at least 2 readers"},
	}
	for _, c := range cases {
		sc := good
		c.edit(&sc)
		_, err := Run(sc, RunOptions{Events: 10})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", sc, err, c.want)
		}
	}
	if _, err := Run(good, RunOptions{Events: 0}); err == nil {
		t.Error("Run accepted 0 events")
	}
}

// The sink runs on one goroutine per consumer; its counters must not be
// shared. This also exercises Finish's once-only contract.
func TestSinkFinishOnce(t *testing.T) {
	var group, all sync.WaitGroup
	group.Add(1)
	all.Add(1)
	s := newSink(0, Fast, make(chan struct{}), &group, &all)
	s.Finish()
	s.Finish() // a second call would panic with a negative WaitGroup counter
	all.Wait()
}

var _ = errors.New
