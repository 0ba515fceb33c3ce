package loadgen

// Latency recording invariants:
//
//   - Every subscriber records into its own sparse histogram (no lock, no
//     atomic per event). It covers one interval of intended send time; when an
//     event belongs to another interval, or the subscriber stops, the
//     histogram is merged into the collector under its mutex and reset. The
//     mutex is taken once per subscriber per interval, never per event.
//   - The collector keeps one sparse histogram per (class, interval). The
//     whole-run distribution of a class is the merge of its intervals, so a
//     value is counted exactly once in both the series and the totals.
//   - An event loop (poll_linux.go) records every stream it owns into one
//     dense histogram per (class, interval) instead: an array increment per
//     event rather than a sparse insert, and a few hundred KiB per loop rather
//     than per subscriber. When a newer interval appears, the older ones are
//     merged into the collector and their histograms reused; a late event of
//     a flushed interval opens it again, and is merged again later, so
//     nothing is counted twice or lost. The rest is flushed when the loop ends.
//   - Values are microseconds from 1 µs to latencyMaxUs with three significant
//     digits (0.1 % resolution). A larger value is clamped to the maximum and
//     counted in clamped, never dropped.

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

const (
	latencyMinUs  = 1
	latencyMaxUs  = int64(time.Hour / time.Microsecond)
	latencyDigits = 3
)

func newPacked() *hdrhistogram.PackedHistogram {
	return hdrhistogram.NewPacked(latencyMinUs, latencyMaxUs, latencyDigits)
}

func newDense() *hdrhistogram.Histogram {
	return hdrhistogram.New(latencyMinUs, latencyMaxUs, latencyDigits)
}

// latencyUs converts a non-negative nanosecond latency to the recorded unit,
// rounding up so that a sub-microsecond latency is not recorded as zero.
func latencyUs(ns int64) int64 {
	if ns <= 0 {
		return 0
	}
	us := (ns + 999) / 1000
	if us > latencyMaxUs {
		return latencyMaxUs
	}
	return us
}

type seriesKey struct {
	class    int
	interval int64
}

type collector struct {
	mu      sync.Mutex
	series  map[seriesKey]*hdrhistogram.PackedHistogram
	clamped int64
}

func newCollector() *collector {
	return &collector{series: map[seriesKey]*hdrhistogram.PackedHistogram{}}
}

// add merges h into the collector's histogram for (class, interval). h is not
// modified.
func (c *collector) add(class int, interval int64, h *hdrhistogram.PackedHistogram, clamped int64) {
	if h.TotalCount() == 0 && clamped == 0 {
		return
	}
	c.mu.Lock()
	c.histogram(seriesKey{class, interval}).Merge(h)
	c.clamped += clamped
	c.mu.Unlock()
}

// addDense is add for a dense histogram. h is not modified.
func (c *collector) addDense(k seriesKey, h *hdrhistogram.Histogram, clamped int64) {
	if h.TotalCount() == 0 && clamped == 0 {
		return
	}
	c.mu.Lock()
	c.histogram(k).MergeFrom(h)
	c.clamped += clamped
	c.mu.Unlock()
}

// histogram returns the series' histogram, made on first use; c.mu is held.
func (c *collector) histogram(k seriesKey) *hdrhistogram.PackedHistogram {
	dst := c.series[k]
	if dst == nil {
		dst = newPacked()
		c.series[k] = dst
	}
	return dst
}

// denseRecorder records the latencies of many subscribers for one owner (an
// event loop); it is not safe for concurrent use.
type denseRecorder struct {
	coll    *collector
	cur     *denseEntry
	live    []*denseEntry
	free    []*hdrhistogram.Histogram
	newest  int64
	started bool
}

type denseEntry struct {
	key     seriesKey
	h       *hdrhistogram.Histogram
	clamped int64
}

func (d *denseRecorder) record(class int, interval, us int64) {
	e := d.cur
	if e == nil || e.key.interval != interval || e.key.class != class {
		e = d.entry(seriesKey{class, interval})
		d.cur = e
	}
	if us == latencyMaxUs {
		e.clamped++
	}
	e.h.RecordValue(us)
}

func (d *denseRecorder) entry(k seriesKey) *denseEntry {
	if !d.started || k.interval > d.newest {
		d.newest, d.started = k.interval, true
		d.flush(k.interval)
	}
	for _, e := range d.live {
		if e.key == k {
			return e
		}
	}
	e := &denseEntry{key: k}
	if n := len(d.free); n > 0 {
		e.h, d.free = d.free[n-1], d.free[:n-1]
	} else {
		e.h = newDense()
	}
	d.live = append(d.live, e)
	return e
}

// flush merges every interval before "before" into the collector (all of
// them when before is math.MaxInt64) and keeps their histograms for reuse.
func (d *denseRecorder) flush(before int64) {
	keep := d.live[:0]
	for _, e := range d.live {
		if e.key.interval >= before {
			keep = append(keep, e)
			continue
		}
		d.coll.addDense(e.key, e.h, e.clamped)
		e.h.Reset()
		d.free = append(d.free, e.h)
		if d.cur == e {
			d.cur = nil
		}
	}
	clear(d.live[len(keep):])
	d.live = keep
}

// intervalHistogram merges the interval's histograms of the given classes
// (all classes when classes is nil) into dst, after resetting it.
func (c *collector) intervalHistogram(dst *hdrhistogram.Histogram, interval int64, classes []int) {
	dst.Reset()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, h := range c.series {
		if k.interval == interval && classIn(k.class, classes) {
			h.MergeInto(dst)
		}
	}
}

// total merges every interval of the given classes (all when nil).
func (c *collector) total(classes []int) *hdrhistogram.Histogram {
	dst := newDense()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, h := range c.series {
		if classIn(k.class, classes) {
			h.MergeInto(dst)
		}
	}
	return dst
}

// intervals returns the smallest and largest interval index recorded.
func (c *collector) intervals() (lo, hi int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.series {
		if !ok || k.interval < lo {
			lo = k.interval
		}
		if !ok || k.interval > hi {
			hi = k.interval
		}
		ok = true
	}
	return lo, hi, ok
}

func classIn(c int, classes []int) bool {
	if classes == nil {
		return true
	}
	for _, x := range classes {
		if x == c {
			return true
		}
	}
	return false
}

// Latency summarises a latency distribution; durations are JSON numbers of
// milliseconds in Result.
type Latency struct {
	Count  int64   `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	v := h.ValueAtPercentilesSlice([]float64{50, 90, 99, 99.9})
	return Latency{
		Count:  h.TotalCount(),
		MeanMs: h.Mean() / 1000,
		P50Ms:  ms(v[0]),
		P90Ms:  ms(v[1]),
		P99Ms:  ms(v[2]),
		P999Ms: ms(v[3]),
		MaxMs:  ms(h.Max()),
	}
}
