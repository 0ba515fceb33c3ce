package bench

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// A Sink is one consumer's end of the harness. The strategy's consumer
// goroutine hands it what it received; the Sink checks it, counts it, samples
// latency and, for slow or stalled consumers, takes the consumer's time.
//
// Invariants (checked by Result.Check after the run):
//
//	S1. Sequences a Sink receives strictly increase.
//	S2. delivered + abandoned + lost == published, where lost is the sum of the
//	    gaps between received sequences plus the tail never received.
//	S3. lost equals what the strategy reported (Missed + Fanout.Dropped).
//	S4. A lossless strategy loses nothing.
//
// A Sink belongs to its consumer goroutine: its counters are plain fields,
// read by the driver only after Finish (the WaitGroup orders the accesses), so
// the hot path takes no lock and shares no cache line with other consumers.
type Sink struct {
	id    int
	class Class

	next      uint64 // next sequence expected
	delivered uint64 // received while the consumer was still consuming
	abandoned uint64 // received after the run released a slow consumer
	gapLost   uint64 // sequences skipped between received events
	missed    uint64 // losses the strategy reported to this consumer
	disorder  uint64 // S1 violations
	torn      uint64 // payloads that do not match their sequence
	err       error  // what the strategy's consumer failed with, if it did
	latency   *hdrhistogram.Histogram

	// Slow and stalled consumers.
	perEvent  time.Duration // a slow consumer's time per event
	busyUntil int64         // Nanotime at which a slow consumer catches up
	timer     *time.Timer
	release   <-chan struct{} // closed when the run stops waiting for slow consumers
	released  bool

	done   *sync.WaitGroup // healthy or slow group
	all    *sync.WaitGroup
	onceFn sync.Once
	_      [64]byte // keeps the next Sink's hot fields off this one's line
}

// Class is a consumer's behaviour in a scenario.
type Class uint8

const (
	// Fast consumers take each event as soon as the strategy hands it over.
	Fast Class = iota
	// Slow consumers spend SlowPerEvent per event (sleeping, as a client
	// blocked on its socket does), so they fall behind any faster publisher.
	Slow
	// A Stalled consumer takes one batch and then nothing until the run
	// releases it: when publishing ends or after Scenario.StallLimit.
	Stalled
)

func (c Class) String() string {
	switch c {
	case Fast:
		return "fast"
	case Slow:
		return "slow"
	case Stalled:
		return "stalled"
	}
	return "?"
}

// SlowPerEvent is a slow consumer's cost per event: 5,000 events/s, half
// the paced publish rate (DefaultRate).
const SlowPerEvent = 200 * time.Microsecond

// sleepQuantum is the smallest sleep worth taking: Linux timers here fire
// about 1 ms late whatever is asked, so a slow consumer runs up a debt and
// pays it in sleeps of at least this much.
const sleepQuantum = time.Millisecond

func newSink(id int, class Class, release <-chan struct{}, done, all *sync.WaitGroup) *Sink {
	s := &Sink{
		id: id, class: class, next: 1, release: release, done: done, all: all,
		// 1 ns .. 100 s at 2 significant digits: ~4k counters, 1% resolution.
		latency: hdrhistogram.New(1, int64(100*time.Second), 2),
	}
	if class == Slow {
		s.perEvent = SlowPerEvent
		s.timer = time.NewTimer(time.Hour)
		s.timer.Stop()
	}
	return s
}

// ID is the consumer's index, 0..Readers-1.
func (s *Sink) ID() int { return s.id }

// Class is the consumer's behaviour.
func (s *Sink) Class() Class { return s.class }

// Deliver hands the consumer the events it received, in order. evs is only
// read during the call.
func (s *Sink) Deliver(evs []Event) {
	var now int64
	for i := range evs {
		ev := &evs[i]
		switch {
		case ev.Seq >= s.next:
			s.gapLost += ev.Seq - s.next
			s.next = ev.Seq + 1
		default:
			s.disorder++
			continue
		}
		if !intact(ev) {
			s.torn++
		}
		if s.released {
			s.abandoned++
			continue
		}
		s.delivered++
		if ev.Stamp != 0 {
			if now == 0 {
				now = Nanotime()
			}
			if d := now - ev.Stamp; d > 0 {
				_ = s.latency.RecordValue(d)
			} else {
				_ = s.latency.RecordValue(1)
			}
		}
	}
	if s.released || s.class == Fast {
		return
	}
	if s.class == Stalled {
		<-s.release
		s.released = true
		return
	}
	s.slowDown(len(evs))
}

// slowDown makes a slow consumer take perEvent per event it was handed.
func (s *Sink) slowDown(n int) {
	now := Nanotime()
	s.busyUntil = max(s.busyUntil, now) + int64(n)*int64(s.perEvent)
	debt := time.Duration(s.busyUntil - now)
	if debt < sleepQuantum {
		return
	}
	s.timer.Reset(debt)
	select {
	case <-s.timer.C:
	case <-s.release:
		s.timer.Stop()
		s.released = true
	}
}

// Missed records n events the strategy told this consumer it lost (a lag
// report such as ring.LagError).
func (s *Sink) Missed(n uint64) { s.missed += n }

// Fail records that the consumer stopped on an unexpected error; the run
// reports it. Call Finish afterwards as usual.
func (s *Sink) Fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// Finish tells the harness the consumer has seen the end of the stream. The
// strategy calls it once, from the consumer goroutine, after its last Deliver.
func (s *Sink) Finish() {
	s.onceFn.Do(func() {
		s.done.Done()
		s.all.Done()
	})
}
