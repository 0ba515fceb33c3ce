package loadgen

import (
	"context"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Aggregation reads what the subscribers own (their counters, subscriber.go)
// only after every subscriber goroutine and event loop has stopped: execute
// calls finish after stop.

// finish folds the schedule's, the subscribers' and the tallies' counters
// and the collector's latencies into res.
func (r *run) finish(res *Result) {
	res.Config = summarizeConfig(&r.cfg)
	res.Subscribers = len(r.subs)
	res.PeakConnected = int(r.env.conns.peak.Load())
	res.Ready = int(r.env.ready.Load())
	r.finishPublishing(res)
	r.finishClasses(res)
	r.finishLatency(res)
	res.ConnectLatency = r.env.conns.latency()
	r.env.errs.report(res)
	res.Series = r.series.points()
}

// finishPublishing reports what the schedule published, and how late.
func (r *run) finishPublishing(res *Result) {
	cfg := &r.cfg
	res.Published = r.sched.published.Load()
	res.PublishFailed = r.sched.failed.Load()
	res.PublishCalls = r.sched.calls.Load()
	res.PublishErrors = r.sched.errors
	res.PublishLagMaxMs = float64(r.sched.lagMaxNs) / 1e6
	res.PublishRTT = summarize(r.sched.rtt)
	if n := res.Published + res.PublishFailed; n > 0 {
		res.PublishLagMeanMs = r.sched.lagSumNs / float64(n) / 1e6
	}
	// The schedule spans Duration; a publisher that needed longer to hand
	// every event over did not offer the rate.
	if span := max(r.sched.wall, cfg.Duration); span > 0 && cfg.Scenario != ScenarioIdle {
		res.PublishRate = float64(res.Published+res.PublishFailed) / span.Seconds()
	}
}

// finishClasses counts delivery and loss per subscriber class and in all:
// every subscriber expects every accepted event of its topics (R3,
// schedule.go).
func (r *run) finishClasses(res *Result) {
	cfg := &r.cfg
	classes := []string{"steady"}
	if n := cfg.specialClassName(); n != "" {
		classes = append(classes, n)
	}
	byClass := make([]ClassResult, len(classes))
	for i := range byClass {
		byClass[i].Name = classes[i]
	}
	for _, s := range r.subs {
		c := &byClass[s.class]
		c.Subscribers++
		expected := r.sched.expected(s)
		c.Expected += expected
		c.Delivered += s.delivered
		if lost := expected - s.delivered; lost > 0 {
			c.SubscribersLosing++
			c.MaxLost = max(c.MaxLost, lost)
		}
		c.Duplicates += s.dups
		c.Gaps += s.gaps
		c.GapEvents += s.gapEvents
		c.SilentGapEvents += s.silentEvents
		c.Lagged += s.lagged
		c.Skipped += s.skipped
		c.SkippedPending += s.skippedPending
		c.Resets += s.resets
		c.ResetMissed += s.resetMissed
		c.Reconnects += s.reconnects
		c.Churns += s.churns
		c.Disconnects += s.disconnects - s.churns
		res.Foreign += s.foreign
	}
	for i := range byClass {
		c := &byClass[i]
		c.Lost = c.Expected - c.Delivered
		c.Latency = summarize(r.coll.total([]int{i}))
		res.Expected += c.Expected
		res.Delivered += c.Delivered
		res.Lost += c.Lost
		res.Duplicates += c.Duplicates
		res.GapEvents += c.GapEvents
		res.SilentGapEvents += c.SilentGapEvents
		res.Lagged += c.Lagged
		res.Skipped += c.Skipped
		res.Resets += c.Resets
		res.Reconnects += c.Reconnects
	}
	res.Classes = byClass
	if res.Measured > 0 {
		res.DeliveriesPerSec = float64(res.Delivered) / cfg.Duration.Seconds()
		if cfg.Scenario == ScenarioIdle {
			res.DeliveriesPerSec = 0
		}
	}
}

// finishLatency summarises the latencies of the whole measured phase and of
// each interval.
func (r *run) finishLatency(res *Result) {
	all := r.coll.total(nil)
	res.Latency = summarize(all)
	res.LatencyClamped = r.coll.clamped
	res.Spectrum = spectrum(all)
	if lo, hi, ok := r.coll.intervals(); ok {
		h := newDense()
		for iv := max(lo, 0); iv <= hi; iv++ {
			r.coll.intervalHistogram(h, iv, nil)
			l := summarize(h)
			res.LatencySeries = append(res.LatencySeries, LatencyPoint{
				AtSec: float64(iv) * r.cfg.Interval.Seconds(), Latency: l,
			})
		}
	}
}

// finishIdle reports the server's memory per held connection: resident
// (when every reading worked) and live (heap and stacks, when its metrics
// have them).
func (r *run) finishIdle(ctx context.Context, idle *IdleResult, baseline, final procSample, srvErr error, baseLive float64) {
	if srvErr == nil && idle.ConnectionsHeld > 0 {
		idle.RSSAfter = final.RSS
		idle.BytesPerConn = float64(final.RSS-baseline.RSS) / float64(idle.ConnectionsHeld)
	}
	if baseLive > 0 && idle.ConnectionsHeld > 0 {
		if live := r.server.liveMemory(ctx); live > 0 {
			idle.LiveBefore, idle.LiveAfter = int64(baseLive), int64(live)
			idle.LiveBytesPerConn = (live - baseLive) / float64(idle.ConnectionsHeld)
		}
	}
}

// finishClient reports what the load generator itself used, and how late
// it woke (the hiccup meter) and read (the event loops).
func (r *run) finishClient(res *Result, loops *pollGroup, hiccup *hdrhistogram.Histogram, cpuStart, cpuEnd float64) {
	res.Client = clientStats(cpuStart, cpuEnd, res.Measured)
	res.Client.Reader = r.cfg.Reader
	if loops != nil {
		res.Client.EventLoops = len(loops.loops)
		res.Client.LoopStreams = r.env.loopStreams.Load()
		res.Client.ReadDelay = summarize(loops.readDelay())
	}
	res.Client.Hiccup = summarize(hiccup)
}

func clientStats(cpuStart, cpuEnd float64, measured time.Duration) ClientStats {
	cs := ClientStats{Goroutines: runtime.NumGoroutine()}
	if s, err := readProc(os.Getpid()); err == nil {
		cs.RSS = s.RSS
	}
	if measured > 0 {
		cs.CPUCores = (cpuEnd - cpuStart) / measured.Seconds()
	}
	return cs
}

// spectrum is the latency at a fixed set of percentiles, for the distribution
// chart (HdrHistogram's percentile-spectrum layout).
func spectrum(h *hdrhistogram.Histogram) []SpectrumPoint {
	if h.TotalCount() == 0 {
		return nil
	}
	ps := []float64{0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 97.5, 98, 98.5, 99, 99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 100}
	vs := h.ValueAtPercentilesSlice(ps)
	out := make([]SpectrumPoint, 0, len(ps))
	for i, p := range ps {
		if p == 100 {
			vs[i] = h.Max()
		}
		out = append(out, SpectrumPoint{Percentile: p, Ms: float64(vs[i]) / 1000})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Percentile < out[j].Percentile })
	return out
}
