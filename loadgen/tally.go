package loadgen

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// connTally counts the subscribers' connections: how long each took to
// open, how many are open, and the most that were open at once; and their
// sockets, which the server holds from the dial, before it answers.
type connTally struct {
	open    atomic.Int64
	peak    atomic.Int64
	sockets atomic.Int64 // open, and those dialled awaiting their response head

	mu   sync.Mutex
	hist *hdrhistogram.Histogram // connect latency, µs
}

func newConnTally() *connTally { return &connTally{hist: newDense()} }

// opened notes a new connection that took d to open, and keeps the peak of
// open connections.
func (c *connTally) opened(d time.Duration) {
	c.mu.Lock()
	c.hist.RecordValue(latencyUs(int64(d)))
	c.mu.Unlock()
	n := c.open.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (c *connTally) closed() { c.open.Add(-1) }

// latency summarises the connect latencies so far.
func (c *connTally) latency() Latency {
	c.mu.Lock()
	defer c.mu.Unlock()
	return summarize(c.hist)
}

// errTally counts the errors that ended streams, by kind, and keeps the
// first few messages as samples.
type errTally struct {
	mu     sync.Mutex
	counts map[string]int64
	sample []string
}

func newErrTally() *errTally { return &errTally{counts: map[string]int64{}} }

func (e *errTally) note(err error) {
	if err == nil {
		return
	}
	kind := errKind(err)
	e.mu.Lock()
	e.counts[kind]++
	if len(e.sample) < 8 {
		e.sample = append(e.sample, err.Error())
	}
	e.mu.Unlock()
}

// report puts the counts (nil when there were none) and samples into res.
func (e *errTally) report(res *Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.counts) > 0 {
		res.Errors = e.counts
	}
	res.ErrorSamples = e.sample
}
