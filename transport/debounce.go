package transport

// The debouncer (--debounce, after the seed's EventDebouncer): events that
// carry a key are held for the window that the first of them opens; a later
// event with the same topic and key replaces the held one; when the window
// closes, the latest is published. Unlike the seed, a window is not extended
// by each new event, so a key that never goes quiet is still published once
// per window, and latency is bounded by the window.
//
// Events without a key are never held. A held event is therefore published
// after keyless events that were posted later: debouncing trades order across
// keys for bandwidth, which is why it is off by default.
//
// A publish that contributed to a held event waits until it is published and
// reports its id; an event that was superseded reports the id of the event
// that replaced it, the one that carries its state.
//
// Invariants: queue holds the pending entries in deadline order (windows are
// all the same length, so that is arrival order); pending and queue hold the
// same entries; both are guarded by mu.

import (
	"sync"
	"time"
)

type debounceKey struct{ topic, key string }

type held struct {
	key      debounceKey
	f        *frame
	deadline time.Time
	waiters  []chan publishResult
}

type publishResult struct {
	seq uint64
	err error
}

type debouncer struct {
	window  time.Duration
	publish func([]*frame) (uint64, error)
	m       *serverMetrics

	mu      sync.Mutex
	pending map[debounceKey]*held
	queue   []*held
	stopped bool

	wake chan struct{} // capacity 1: the queue's head changed
	stop chan struct{}
	done chan struct{}
}

func newDebouncer(window time.Duration, publish func([]*frame) (uint64, error), m *serverMetrics) *debouncer {
	d := &debouncer{
		window:  window,
		publish: publish,
		m:       m,
		pending: map[debounceKey]*held{},
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go d.run()
	return d
}

// add holds f and returns where its publish result will arrive.
func (d *debouncer) add(f *frame) (<-chan publishResult, error) {
	res := make(chan publishResult, 1)
	k := debounceKey{f.topic, f.key}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return nil, errEngineClosed
	}
	if h := d.pending[k]; h != nil {
		h.f = f
		h.waiters = append(h.waiters, res)
		d.m.debounced.Inc()
		return res, nil
	}
	h := &held{key: k, f: f, deadline: time.Now().Add(d.window), waiters: []chan publishResult{res}}
	d.pending[k] = h
	d.queue = append(d.queue, h)
	if len(d.queue) == 1 {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return res, nil
}

func (d *debouncer) run() {
	defer close(d.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, next, stopped := d.take()
		d.flush(due)
		if stopped {
			return
		}
		if !next.IsZero() {
			timer.Reset(time.Until(next))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-timer.C:
		case <-d.wake:
		case <-d.stop:
		}
	}
}

// take removes the entries whose window has closed (all of them once
// stopped) and returns them with the next deadline.
func (d *debouncer) take() (due []*held, next time.Time, stopped bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	i := 0
	for i < len(d.queue) && (d.stopped || !d.queue[i].deadline.After(now)) {
		delete(d.pending, d.queue[i].key)
		i++
	}
	due = append(due, d.queue[:i]...)
	d.queue = append(d.queue[:0], d.queue[i:]...)
	if len(d.queue) > 0 {
		next = d.queue[0].deadline
	}
	return due, next, d.stopped
}

func (d *debouncer) flush(due []*held) {
	if len(due) == 0 {
		return
	}
	frames := make([]*frame, len(due))
	for i, h := range due {
		frames[i] = h.f
	}
	first, err := d.publish(frames)
	for i, h := range due {
		r := publishResult{err: err}
		if err == nil {
			r.seq = first + uint64(i)
		}
		for _, w := range h.waiters {
			w <- r
		}
	}
}

// close publishes everything held and stops.
func (d *debouncer) close() {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		<-d.done
		return
	}
	d.stopped = true
	d.mu.Unlock()
	close(d.stop)
	<-d.done
}
