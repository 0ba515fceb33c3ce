package bench

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// RunOptions control one run of a scenario.
type RunOptions struct {
	// Events is how many events to publish (b.N in a benchmark).
	Events int
	// StartTimer and StopTimer, if set, are called when the timed part of
	// the run starts (after setup) and ends (when the last healthy consumer
	// has its last event): b.ResetTimer and b.StopTimer in a benchmark.
	StartTimer, StopTimer func()
	// MaxTime, if positive, stops publishing once the run has gone on this
	// long, even short of Events: Result.Published says how many went out.
	// go test sizes b.N from earlier, shorter runs, and a lossy strategy's
	// cost per event grows with the run (readers only fall behind once they
	// compete with the publisher), so a prediction can overshoot tenfold.
	MaxTime time.Duration
	// MeasureCPU fills Result.CPU: the publisher is locked to its thread and
	// paces by spinning (see cost.go).
	MeasureCPU bool
}

// Result is what one run measured. Counts are exact; latencies are sampled
// (every SampleEvery-th event).
type Result struct {
	Scenario  Scenario
	Published uint64
	// Elapsed is the timed part: first publish to the last healthy
	// consumer's end of stream. PublishTime is the publisher's share of it.
	Elapsed, PublishTime time.Duration
	Consumers            []ConsumerResult
	// PeakHeap is the largest growth of the heap's object bytes over its
	// level at the start, sampled every few milliseconds.
	PeakHeap uint64
	// LineTrip is the machine's cache-line round trip between two
	// processors just before the timed part (LineRoundTrip), 0 where it
	// could not be measured.
	LineTrip time.Duration
	// PublishLate, on paced runs, is how late each publish was against the
	// schedule (ns): a publisher held back by a consumer shows here.
	PublishLate *hdrhistogram.Histogram
	// Released is true if slow consumers were released by the stall limit
	// before publishing ended.
	Released bool
	// Truncated is true if RunOptions.MaxTime stopped publishing early.
	Truncated bool
	// Mallocs and AllocBytes are the heap allocations of the timed part.
	Mallocs, AllocBytes uint64
	// CPU, with RunOptions.MeasureCPU, is the CPU time the strategy cost
	// during the timed part (cost.go); 0 otherwise.
	CPU time.Duration

	lossless bool // the strategy promises no loss
}

// ConsumerResult is one consumer's accounting (see Sink's invariants).
type ConsumerResult struct {
	Class     Class
	Delivered uint64 // received while consuming
	Abandoned uint64 // received after the run released this slow consumer
	Lost      uint64 // never received: published - delivered - abandoned
	Reported  uint64 // losses the strategy reported (Missed + Dropped)
	Disorder  uint64 // sequences received out of order or twice
	Torn      uint64 // payloads that did not match their sequence
	Err       error  // the consumer's failure, if it failed
	Latency   *hdrhistogram.Histogram
}

// Run runs one scenario: it builds the strategy, publishes opt.Events events
// (paced if sc.Rate > 0) and waits for every consumer. It returns an error for
// a bad scenario and when the accounting does not add up (Result.Check).
func Run(sc Scenario, opt RunOptions) (*Result, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	strat, _ := LookupStrategy(sc.Strategy)
	return run(strat, sc, opt)
}

// run is Run with the strategy given, so tests can run strategies that are
// not registered (deliberately broken ones, to see the checks fail).
func run(strat Strategy, sc Scenario, opt RunOptions) (*Result, error) {
	if opt.Events < 1 {
		return nil, fmt.Errorf("bench: events must be at least 1, got %d", opt.Events)
	}
	classes, err := sc.Consumers.classes(sc.Readers)
	if err != nil {
		return nil, err
	}

	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseSlow := func() { releaseOnce.Do(func() { close(release) }) }

	var healthy, slow, all sync.WaitGroup
	sinks := make([]*Sink, sc.Readers)
	for i, c := range classes {
		group := &healthy
		if c != Fast {
			group = &slow
		}
		group.Add(1)
		all.Add(1)
		sinks[i] = newSink(i, c, release, group, &all)
	}
	cfg := Config{Readers: sc.Readers, Capacity: sc.capacity(), Batch: sc.Batch}
	fan, err := strat.Open(cfg, sinks)
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", sc.Strategy, err)
	}

	pool := newPayloadPool(sc.Payload)
	batch := make([]Event, sc.Batch)
	res := &Result{Scenario: sc, Published: uint64(opt.Events), lossless: strat.Lossless}
	if sc.Rate > 0 {
		res.PublishLate = hdrhistogram.New(1, int64(100*time.Second), 2)
	}
	// Start from a collected heap, so that the garbage of earlier runs (and
	// this one's setup) is not collected during this one's timed part: a GC
	// cycle there lands in the latency tail of whichever scenario comes next.
	runtime.GC()
	res.LineTrip = LineRoundTrip(LineTripRounds)
	mem := startHeapSampler()

	var watchdog *time.Timer
	released := make(chan bool, 1)
	var cpu cpuMeter
	if opt.MeasureCPU {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	if opt.StartTimer != nil {
		opt.StartTimer()
	}
	if opt.MeasureCPU {
		if err := cpu.start(); err != nil {
			return nil, err
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs, allocBytes := ms.Mallocs, ms.TotalAlloc
	start := Nanotime()
	if sc.Consumers != AllFast { // the stall limit counts from the first publish
		watchdog = time.AfterFunc(sc.stallLimit(), func() {
			released <- true
			releaseSlow()
		})
	}
	deadline := int64(math.MaxInt64)
	if opt.MaxTime > 0 {
		deadline = start + int64(opt.MaxTime)
	}
	var interval float64 // ns between events when paced
	if sc.Rate > 0 {
		interval = 1e9 / float64(sc.Rate)
	}
	for seq := uint64(1); seq <= res.Published; {
		n := min(uint64(sc.Batch), res.Published-seq+1)
		evs := batch[:n]
		var stamp int64
		if sc.Rate > 0 {
			due := start + int64(float64(seq-1)*interval)
			var now int64
			if opt.MeasureCPU {
				now = spinUntil(due)
			} else {
				now = waitUntil(due)
			}
			_ = res.PublishLate.RecordValue(max(now-due, 1))
			stamp = now
		}
		for i := range evs {
			s := seq + uint64(i)
			evs[i] = Event{Seq: s, Data: pool.get(s)}
			if s%SampleEvery == 0 {
				if stamp == 0 {
					stamp = Nanotime()
				}
				evs[i].Stamp = stamp
			}
		}
		if opt.MeasureCPU {
			cpu.publish(fan, evs)
		} else {
			fan.Publish(evs)
		}
		seq += n
		// Check the time every 64 events or so: reading the clock costs as
		// much as a ring publish.
		if seq&^63 != (seq-n)&^63 && seq <= res.Published && Nanotime() > deadline {
			res.Published, res.Truncated = seq-1, true
		}
	}
	pubEnd := Nanotime()
	releaseSlow()
	fan.Close()
	healthy.Wait()
	end := Nanotime()
	if opt.MeasureCPU {
		res.CPU = cpu.stop()
	}
	if opt.StopTimer != nil {
		opt.StopTimer()
	}
	runtime.ReadMemStats(&ms)
	res.Mallocs, res.AllocBytes = ms.Mallocs-mallocs, ms.TotalAlloc-allocBytes
	if watchdog != nil {
		watchdog.Stop()
	}
	select {
	case res.Released = <-released:
	default:
	}
	fan.Wait()
	all.Wait()
	res.PeakHeap = mem.stop()
	res.Elapsed = time.Duration(end - start)
	res.PublishTime = time.Duration(pubEnd - start)

	res.Consumers = make([]ConsumerResult, len(sinks))
	for i, s := range sinks {
		res.Consumers[i] = ConsumerResult{
			Class:     s.class,
			Delivered: s.delivered,
			Abandoned: s.abandoned,
			Lost:      res.Published - s.delivered - s.abandoned,
			Reported:  s.missed + fan.Dropped(i),
			Disorder:  s.disorder,
			Torn:      s.torn,
			Err:       s.err,
			Latency:   s.latency,
		}
		if s.gapLost+(res.Published-min(s.next-1, res.Published)) != res.Consumers[i].Lost && s.disorder == 0 {
			return res, fmt.Errorf("bench: %s: consumer %d: gaps (%d) do not match the count lost (%d)", sc, i, s.gapLost, res.Consumers[i].Lost)
		}
	}
	return res, res.Check()
}

// waitUntil returns at the first Nanotime >= due, and that time. Gaps long
// enough to sleep through are slept (Linux timers here wake about 1 ms late,
// so slow rates publish in bursts of a millisecond's worth); shorter ones
// yield the processor until due, so fast rates publish smoothly and the
// consumers get the CPU in between.
func waitUntil(due int64) int64 {
	for {
		now := Nanotime()
		switch gap := due - now; {
		case gap <= 0:
			return now
		case gap >= int64(pacingSleepMin):
			time.Sleep(time.Duration(gap))
		default:
			runtime.Gosched()
		}
	}
}

// pacingSleepMin is the shortest gap a paced publisher sleeps through.
const pacingSleepMin = 50 * time.Microsecond

// Check verifies the accounting invariants of every consumer: sequences
// strictly increased, no payload was torn, every loss was reported by the
// strategy, and a lossless strategy lost nothing.
func (r *Result) Check() error {
	var errs []error
	for i, c := range r.Consumers {
		where := fmt.Sprintf("bench: %s: consumer %d (%s)", r.Scenario.Strategy, i, c.Class)
		if c.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, c.Err))
		}
		if c.Disorder > 0 {
			errs = append(errs, fmt.Errorf("%s: %d events out of order or repeated", where, c.Disorder))
		}
		if c.Torn > 0 {
			errs = append(errs, fmt.Errorf("%s: %d torn payloads", where, c.Torn))
		}
		if c.Delivered+c.Abandoned+c.Lost != r.Published {
			errs = append(errs, fmt.Errorf("%s: delivered %d + abandoned %d + lost %d != published %d", where, c.Delivered, c.Abandoned, c.Lost, r.Published))
		}
		if c.Lost != c.Reported {
			errs = append(errs, fmt.Errorf("%s: lost %d events but the strategy reported %d", where, c.Lost, c.Reported))
		}
		if r.lossless && c.Lost > 0 {
			errs = append(errs, fmt.Errorf("%s: lossless strategy lost %d events", where, c.Lost))
		}
	}
	return errors.Join(errs...)
}

// Totals sums the consumers of one kind: healthy (Fast) or slow (Slow and
// Stalled) when healthy is false.
func (r *Result) Totals(healthy bool) (n int, delivered, lost uint64, latency *hdrhistogram.Histogram) {
	latency = hdrhistogram.New(1, int64(100*time.Second), 2)
	for _, c := range r.Consumers {
		if (c.Class == Fast) != healthy {
			continue
		}
		n++
		delivered += c.Delivered
		lost += c.Lost
		latency.Merge(c.Latency)
	}
	return n, delivered, lost, latency
}

// Lossy reports whether any consumer lost an event.
func (r *Result) Lossy() bool {
	for _, c := range r.Consumers {
		if c.Lost > 0 {
			return true
		}
	}
	return false
}

// Metric is one measure as b.ReportMetric takes it.
type Metric struct {
	Value float64
	Unit  string
}

// Units the suite reports (besides go test's ns/op, B/op, allocs/op).
const (
	UnitPublishRate  = "pub-ev/s"
	UnitDeliveryRate = "deliv/s"
	UnitLoss         = "loss-frac"
	UnitHealthyLoss  = "ok-loss-frac"
	UnitSlowLoss     = "slow-loss-frac"
	UnitP50          = "p50-ns"
	UnitP99          = "p99-ns"
	UnitPublishLate  = "pub-late-p99-ns"
	UnitPeakHeap     = "peak-heap-B"
	UnitLineTrip     = "line-rtt-ns" // Result.LineTrip

	UnitSustainedRate       = "sustained-ev/s"    // BenchmarkSustained
	UnitSustainedDeliveries = "sustained-deliv/s" // the same × readers

	UnitCPUPerDelivery = "cpu-ns/deliv"     // BenchmarkCost
	UnitIdleWake50     = "idle-wake-p50-ns" // BenchmarkCost: CostResult.IdleWake50
	UnitIdleWake90     = "idle-wake-p90-ns" // CostResult.IdleWake90
)

// Metrics are the measures of r, as the benchmarks report them.
func (r *Result) Metrics() []Metric {
	secs := r.Elapsed.Seconds()
	var delivered, lost uint64
	for _, c := range r.Consumers {
		delivered += c.Delivered
		lost += c.Lost
	}
	per := float64(r.Published)
	ms := []Metric{
		{per / max(r.PublishTime.Seconds(), 1e-9), UnitPublishRate},
		{float64(delivered) / max(secs, 1e-9), UnitDeliveryRate},
		{float64(lost) / (per * float64(len(r.Consumers))), UnitLoss},
	}
	n, _, okLost, okLat := r.Totals(true)
	if n > 0 {
		ms = append(ms, Metric{float64(okLost) / (per * float64(n)), UnitHealthyLoss})
		if okLat.TotalCount() > 0 {
			ms = append(ms, Metric{float64(okLat.ValueAtQuantile(50)), UnitP50}, Metric{float64(okLat.ValueAtQuantile(99)), UnitP99})
		}
	}
	if n, _, slowLost, _ := r.Totals(false); n > 0 {
		ms = append(ms, Metric{float64(slowLost) / (per * float64(n)), UnitSlowLoss})
	}
	if r.PublishLate != nil {
		ms = append(ms, Metric{float64(r.PublishLate.ValueAtQuantile(99)), UnitPublishLate})
	}
	ms = append(ms, Metric{float64(r.PeakHeap), UnitPeakHeap}, Metric{float64(r.LineTrip.Nanoseconds()), UnitLineTrip})
	return ms
}

// heapSampler tracks the peak of the heap's object bytes while a run goes on.
type heapSampler struct {
	stopc chan struct{}
	done  chan uint64
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func readHeap(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stopc: make(chan struct{}), done: make(chan uint64, 1)}
	s := []metrics.Sample{{Name: heapMetric}}
	base := readHeap(s)
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		peak := base
		for {
			select {
			case <-tick.C:
				peak = max(peak, readHeap(s))
			case <-h.stopc:
				peak = max(peak, readHeap(s))
				h.done <- peak - base
				return
			}
		}
	}()
	return h
}

// stop ends sampling and returns the peak growth in bytes.
func (h *heapSampler) stop() uint64 {
	close(h.stopc)
	return <-h.done
}
