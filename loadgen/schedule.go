package loadgen

// Schedule invariants:
//
//   R3. Warm-up before measurement: events flagged as warm-up go to every
//       topic until every subscriber has received one. Only then is a
//       subscription known to be live on the server, and only then do
//       measured sequences start (at 0 on every topic), so "expected" is
//       exact: every subscriber expects every measured event of its topics.
//   R4. Open loop: the i-th measured event is due at intended(i), fixed
//       before the run starts. When the server (or the publish call) is slow,
//       the publisher falls behind and sends the overdue events in one batch,
//       each still carrying its own intended time, so the delay shows in
//       latency instead of thinning the schedule (no coordinated omission).

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// schedule is the publishing side of a run: the warm-up, the measured
// phase's open-loop schedule, and what came of them.
type schedule struct {
	cfg    *Config // read only
	pub    Publisher
	topics []string
	clock  clock

	// Read by the progress loop while the publishing goroutine runs.
	published atomic.Int64
	failed    atomic.Int64
	calls     atomic.Int64
	done      atomic.Bool // publish has returned

	// Written by the publishing goroutine, read after it.
	errors    []string // the first few publish errors
	accepted  []int64  // measured events the server accepted, per topic
	generated []uint64 // measured events generated, per topic
	lagMaxNs  int64
	lagSumNs  float64
	rtt       *hdrhistogram.Histogram // round trip of each accepted publish call, µs
	wall      time.Duration           // how long publish took to hand every event over
}

func newSchedule(cfg *Config, c clock) *schedule {
	sc := &schedule{cfg: cfg, clock: c, topics: make([]string, cfg.Topics), rtt: newDense()}
	for i := range sc.topics {
		sc.topics[i] = cfg.TopicPrefix + strconv.Itoa(i)
	}
	sc.accepted = make([]int64, cfg.Topics)
	sc.generated = make([]uint64, cfg.Topics)
	return sc
}

// intended is the i-th measured event's due time, in ns after the measured
// phase's start (R4).
func (sc *schedule) intended(i int64) int64 {
	if sc.cfg.Rate <= 0 {
		return 0
	}
	if sc.cfg.Scenario == ScenarioBurst {
		size := sc.burstSize()
		return (i / size) * int64(sc.cfg.BurstEvery)
	}
	return int64(float64(i) * 1e9 / sc.cfg.Rate)
}

func (sc *schedule) burstSize() int64 {
	return max(1, int64(math.Round(sc.cfg.Rate*sc.cfg.BurstEvery.Seconds())))
}

func (sc *schedule) totalEvents() int64 {
	if sc.cfg.Scenario == ScenarioIdle {
		return 0
	}
	return int64(math.Round(sc.cfg.Rate * sc.cfg.Duration.Seconds()))
}

// warmup publishes warm-up events to every topic until ready counts every
// one of the subscribers (R3). It fails only when no publish succeeded at all.
func (sc *schedule) warmup(ctx context.Context, ready *atomic.Int64, subscribers int) error {
	cfg := sc.cfg
	deadline := time.Now().Add(cfg.WarmupTimeout)
	var seq uint64
	var lastErr error
	ok := false
	msgs := make([]Message, 0, min(len(sc.topics), cfg.MaxBatch))
	var arena []byte
	for ready.Load() < int64(subscribers) && time.Now().Before(deadline) && ctx.Err() == nil {
		for t0 := 0; t0 < len(sc.topics); t0 += cfg.MaxBatch {
			msgs, arena = msgs[:0], arena[:0]
			t1 := min(len(sc.topics), t0+cfg.MaxBatch)
			for t := t0; t < t1; t++ {
				arena = AppendPayload(arena, Stamp{Topic: uint32(t), Seq: seq, IntendedNs: sc.clock.now(), Warmup: true}, PayloadHeaderBytes)
			}
			for t := t0; t < t1; t++ {
				off := (t - t0) * PayloadHeaderBytes
				msgs = append(msgs, Message{Topic: sc.topics[t], Event: cfg.EventName, Data: arena[off : off+PayloadHeaderBytes], Seq: seq})
			}
			if err := sc.pub.Publish(ctx, msgs); err != nil {
				lastErr = err
			} else {
				ok = true
			}
		}
		seq++
		sleepUntil(ctx, time.Now().Add(50*time.Millisecond))
	}
	if !ok && lastErr != nil {
		return fmt.Errorf("warm-up: no publish succeeded: %v", lastErr)
	}
	if n := ready.Load(); n < int64(subscribers) {
		cfg.Logger.Warn("loadgen: measuring without every subscriber ready", "ready", n, "subscribers", subscribers)
	}
	return nil
}

// publish runs the open-loop schedule (R4) of the measured phase, which
// began at start on the run's clock.
func (sc *schedule) publish(ctx context.Context, start int64) {
	cfg := sc.cfg
	total := sc.totalEvents()
	T := int64(len(sc.topics))
	size := cfg.Payload
	msgs := make([]Message, 0, cfg.MaxBatch)
	arena := make([]byte, 0, cfg.MaxBatch*size)
	began := time.Now()
	var i int64
	for i < total && ctx.Err() == nil {
		now := sc.clock.now() - start
		j := i
		for j < total && j-i < int64(cfg.MaxBatch) && sc.intended(j) <= now {
			j++
		}
		if j == i {
			sleepUntil(ctx, time.Now().Add(time.Duration(sc.intended(i)-now)))
			continue
		}
		if lag := now - sc.intended(i); lag > sc.lagMaxNs {
			sc.lagMaxNs = lag
		}
		for k := i; k < j; k++ {
			sc.lagSumNs += float64(now - sc.intended(k))
		}
		msgs, arena = msgs[:0], arena[:0]
		for k := i; k < j; k++ {
			t, seq := k%T, uint64(k/T)
			arena = AppendPayload(arena, Stamp{Topic: uint32(t), Seq: seq, IntendedNs: start + sc.intended(k)}, size)
			msgs = append(msgs, Message{Topic: sc.topics[t], Event: cfg.EventName, Seq: seq})
		}
		for k := range msgs {
			msgs[k].Data = arena[k*size : (k+1)*size]
		}
		sc.calls.Add(1)
		sent := time.Now()
		if err := sc.pub.Publish(ctx, msgs); err != nil {
			sc.failed.Add(j - i)
			if len(sc.errors) < 8 {
				sc.errors = append(sc.errors, err.Error())
			}
		} else {
			sc.rtt.RecordValue(latencyUs(int64(time.Since(sent))))
			for k := i; k < j; k++ {
				sc.accepted[k%T]++
			}
			sc.published.Add(j - i)
		}
		for k := i; k < j; k++ {
			sc.generated[k%T]++
		}
		i = j
	}
	sc.wall = time.Since(began)
	sc.done.Store(true)
}

// target is how far a subscriber's position must reach to hold everything
// that was generated for its topics.
func (sc *schedule) target(s *subscriber) uint64 { return ofTopics(s, sc.generated) }

// expected is how many measured events a subscriber should have received:
// every one the server accepted for its topics (R3).
func (sc *schedule) expected(s *subscriber) int64 { return ofTopics(s, sc.accepted) }

// ofTopics is a subscriber's share of a per-topic count: its topic's, or the
// sum over every topic for a subscriber to all of them.
func ofTopics[N int64 | uint64](s *subscriber, perTopic []N) N {
	if !s.allTopics {
		return perTopic[s.topic]
	}
	var sum N
	for _, n := range perTopic {
		sum += n
	}
	return sum
}
