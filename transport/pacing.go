package transport

// Pacing: how often a stream may write.
//
// A write is one system call per client, and on loopback or a busy host it is
// most of what the server spends (63% of its CPU at 1,000 clients × 1,000
// events/s). With every stream writing as soon as anything is ready, the
// writes multiply until the CPU is saturated; then Go polls the network only
// every 10 ms (sysmon), publishes wait for a core, and every latency grows
// with the queue. Pacing bounds the writes instead: a stream writes at most
// once per window, and whatever became ready meanwhile shares that write.
// An event that finds its stream idle for a window goes out at once, so
// pacing adds nothing at low rates.
//
// The window is fixed (--batch-window D), off (--batch-window off), or, by
// default, automatic: every paceTick the pacer compares the rate of writes
// with a budget (--write-budget, 25,000 writes/s per core by default) and
//
//   - above the budget with pacing off, opens the window at active/budget
//     (the streams that wrote in the tick over the budget): every stream
//     faster than its share is then held to it, so the rate lands on the
//     budget in one tick, before a saturated CPU has queued much;
//   - above the budget with a window, scales it by rate/budget: when the
//     window binds every active stream, rate = active/window, so one step
//     lands on active/budget;
//   - below half the budget, halves it (which at most doubles the rate, so
//     it stays within the budget and the window does not oscillate); under
//     minAutoWindow it turns pacing off, but only when the window no longer
//     binds (the streams that wrote did so less than every other window):
//     otherwise turning it off could bring back all the writes it saved;
//   - never beyond maxAutoWindow, the most latency pacing may add.
//
// Invariants:
//
//	P1. window is read by every stream and written only by the sweeper
//	    goroutine (adjust); writes and active are added to by streams and
//	    swapped to zero by adjust, which then advances tick.
//	P2. A stream counts itself active at most once per tick: it remembers
//	    the last tick it counted in (stream.activeTick, its own).
//	P3. A stream paces only before it waits for events, holding no batch
//	    (stream invariant S4), and never for longer than the window.

import (
	"runtime"
	"sync/atomic"
	"time"
)

const (
	paceTick      = 100 * time.Millisecond
	minAutoWindow = time.Millisecond
	// maxAutoWindow bounds the latency the automatic window adds. It also
	// leaves streams whose events come further apart than this unpaced:
	// 10,000 clients of one topic at 10 events/s (100,000 writes/s) would
	// otherwise be paced to 200 ms by a 50,000 writes/s budget, doubling
	// their latency to save CPU the machine had to spare.
	maxAutoWindow = 50 * time.Millisecond
	// defaultWritesPerCore is the automatic window's budget per core: at
	// ~10 µs a write (loopback, 2-core VM), a quarter of each core. At 1,000
	// clients × 1,000 events/s on 2 cores (a 20 ms window) its p99 was within
	// the noise of 29k and 33k per core, with the most CPU left over
	// (docs/transport.md).
	defaultWritesPerCore = 25_000
)

// NoBatchWindow in Config.BatchWindow turns pacing off: every stream writes
// whenever something is ready.
const NoBatchWindow time.Duration = -1

type pacer struct {
	fixed  time.Duration // > 0: a fixed window; < 0: off; 0: automatic
	budget float64       // automatic: writes per second
	window atomic.Int64  // the current window, nanoseconds (P1)
	writes atomic.Int64  // writes since the last adjust (P1)
	active atomic.Int64  // streams that wrote since the last adjust (P1, P2)
	tick   atomic.Uint64 // adjusts so far (P2)
	last   time.Time     // when adjust last ran
}

func newPacer(window time.Duration, budget int) *pacer {
	if budget <= 0 {
		budget = defaultWritesPerCore * runtime.GOMAXPROCS(0)
	}
	p := &pacer{fixed: window, budget: float64(budget), last: time.Now()}
	if window > 0 {
		p.window.Store(int64(window))
	}
	return p
}

func (p *pacer) auto() bool { return p.fixed == 0 }

// current is the window a stream paces by now.
func (p *pacer) current() time.Duration { return time.Duration(p.window.Load()) }

// wrote counts a stream's write of events; *activeTick is the stream's own
// record of the last tick it counted itself active in (P2).
func (p *pacer) wrote(activeTick *uint64) {
	if !p.auto() {
		return
	}
	p.writes.Add(1)
	if t := p.tick.Load() + 1; *activeTick != t { // +1: a new stream holds 0
		*activeTick = t
		p.active.Add(1)
	}
}

// adjust runs every paceTick on the sweeper's goroutine (P1).
func (p *pacer) adjust(now time.Time) {
	elapsed := now.Sub(p.last).Seconds()
	p.last = now
	n, active := p.writes.Swap(0), p.active.Swap(0)
	p.tick.Add(1)
	if !p.auto() || elapsed <= 0 {
		return
	}
	w := nextWindow(p.current(), float64(n)/elapsed, float64(active), p.budget)
	p.window.Store(int64(w))
}

// nextWindow is the automatic window after one tick in which active streams
// wrote rate times a second in all.
func nextWindow(w time.Duration, rate, active, budget float64) time.Duration {
	switch {
	case rate > budget && w < minAutoWindow:
		// Unpaced, each active stream writes at its own rate; paced by
		// active/budget, those above the budget's share are held to it.
		w = max(time.Duration(active/budget*float64(time.Second)), minAutoWindow)
	case rate > budget:
		w = time.Duration(float64(w) * rate / budget)
	case rate < budget/2 && w > 0:
		// binds: the fraction of the windows in which a stream wrote.
		binds := rate * w.Seconds() / max(active, 1)
		if w /= 2; w < minAutoWindow {
			w = 0
			if binds >= 0.5 {
				w = minAutoWindow
			}
		}
	}
	return min(w, maxAutoWindow)
}
