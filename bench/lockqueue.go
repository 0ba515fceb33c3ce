package bench

import (
	"sync"
)

// lockQueue is the lock-based broadcast queue: the design of tokio's
// broadcast channel (and of most hand-written Go broadcasters) — one shared
// ring of slots behind a lock, readers that each keep a position, and a
// condition variable the writer broadcasts on. Like the ring it is lossy: the
// writer overwrites, and a reader that fell more than capacity behind learns
// how many it missed (tokio's Lagged(n)).
//
// Invariants, all under mu:
//
//	L1. tail is the number of events written; slot s&mask holds event
//	    s for tail-len(slots) <= s < tail (0-based).
//	L2. Only the writer holds mu for writing; it writes slots and tail only
//	    then, and broadcasts after unlocking.
//	L3. A reader reads slots and tail only under mu's read lock, and waits
//	    on cond (whose Locker is the read lock) only after checking, under
//	    that lock, that there is nothing to read — so no broadcast is lost.
type lockQueue struct {
	mu     sync.RWMutex
	cond   *sync.Cond
	slots  []Event
	mask   uint64
	tail   uint64
	closed bool
	wg     sync.WaitGroup
}

func init() {
	register(Strategy{Name: "mutex-cond", Summary: "one ring behind a RWMutex, readers woken by sync.Cond broadcast (tokio broadcast's design)",
		Open: openLockQueue})
}

func openLockQueue(cfg Config, sinks []*Sink) (Fanout, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := 1
	for n < cfg.Capacity {
		n <<= 1
	}
	q := &lockQueue{slots: make([]Event, n), mask: uint64(n - 1)}
	q.cond = sync.NewCond(q.mu.RLocker())
	for _, s := range sinks {
		q.wg.Add(1)
		go func(sink *Sink) {
			defer q.wg.Done()
			q.consume(sink)
		}(s)
	}
	return q, nil
}

func (q *lockQueue) Publish(evs []Event) {
	q.mu.Lock()
	for i := range evs {
		q.slots[q.tail&q.mask] = evs[i]
		q.tail++
	}
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *lockQueue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *lockQueue) Wait()              { q.wg.Wait() }
func (q *lockQueue) Dropped(int) uint64 { return 0 }

// consume is one reader: it starts at the tail as of Open (0: nothing was
// published yet) and reads until the queue is closed and drained.
func (q *lockQueue) consume(sink *Sink) {
	defer sink.Finish()
	buf := make([]Event, recvBatch)
	var pos uint64
	size := uint64(len(q.slots))
	for {
		q.mu.RLock()
		for pos == q.tail && !q.closed {
			q.cond.Wait()
		}
		if pos == q.tail { // closed and drained
			q.mu.RUnlock()
			return
		}
		var missed uint64
		if q.tail-pos > size {
			missed = q.tail - size - pos
			pos = q.tail - size
		}
		n := 0
		for pos < q.tail && n < len(buf) {
			buf[n] = q.slots[pos&q.mask]
			pos++
			n++
		}
		q.mu.RUnlock()
		if missed > 0 {
			sink.Missed(missed)
		}
		sink.Deliver(buf[:n])
		clear(buf[:n])
	}
}
