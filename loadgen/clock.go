package loadgen

// Run clock invariants:
//
//   R1. The run has one monotonic clock: clock.now() is nanoseconds since
//       base. Intended send times, receive times and the measured phase's
//       start are all on it, so latency never depends on wall-clock steps.
//       (The epoll reader moves a receive time back to the kernel's arrival
//       timestamp by the difference of two wall-clock readings taken at most
//       maxReadDelay apart, poll_linux.go.)
//   R2. The measured phase's start is stored before running is set and
//       before the first measured event exists, so every subscriber that sees
//       a measured event reads the final start.

import (
	"sync/atomic"
	"time"
)

// clock is the run's monotonic clock (R1).
type clock struct{ base time.Time }

func (c clock) now() int64 { return int64(time.Since(c.base)) }

// at is t on the run's clock.
func (c clock) at(t time.Time) int64 { return int64(t.Sub(c.base)) }

// measurement is whether the measured phase has begun, and when (R2).
type measurement struct {
	startNs atomic.Int64
	on      atomic.Bool
}

// begin starts the measured phase at clock time at, before the first measured
// event is made (R2).
func (m *measurement) begin(at int64) {
	m.startNs.Store(at)
	m.on.Store(true)
}

func (m *measurement) running() bool { return m.on.Load() }

// start is the measured phase's start on the run's clock; final once running,
// or once a measured event has been seen (R2).
func (m *measurement) start() int64 { return m.startNs.Load() }
