package disruptor

// The batch event processor: one goroutine per handler.
//
// Invariants:
//   E1. The processor's sequence is the highest entry its handler has
//       finished (S2). It is stored once per batch, after the handler's last
//       call for the batch, and then the Waiters of everyone who depends on
//       it are signalled: downstream handlers and, for a handler at the end
//       of the graph, the producers (W2).
//   E2. A batch is next..avail where avail is what the barrier reports:
//         first stage, single producer: the cursor (P2);
//         first stage, multi producer: the highest contiguous published
//           sequence from next (M5);
//         later stages: the minimum of the upstream handlers' sequences,
//           which never exceeds what was published.
//       clamped to limit (Q3). Every entry in it is published and finished
//       upstream, so it is safe to read and, for fields no one upstream
//       reads, to write (H3).
//   E3. The handler is called for next..avail in order, endOfBatch on avail
//       only. A returned error is reported and the batch goes on. A panic
//       unwinds to process's deferred recover, which reports it, stores the
//       failed sequence as finished (H2: skipped, like LMAX's
//       BatchEventProcessor does after an exception) and restarts the loop
//       after it.
//   E4. The processor stops when next > limit: after the drain target on
//       shutdown, at once after a halt. Downstream handlers can always
//       reach the target because upstream ones stop only beyond it.

import "runtime/debug"

type processor[T any] struct {
	seq sequence // E1

	d          *Disruptor[T]
	handler    Handler[T]
	batchStart BatchStarter // nil unless the handler implements it
	upstream   []*processor[T]
	deps       []*sequence // upstream sequences; nil for the first stage
	waiter     Waiter
	onEvent    func(*T, int64, bool) error // the HandlerFunc itself, if it is one
	signals    signalList                  // E1
	downstream bool                        // some handler depends on this one
	stage      int
	index      int

	next int64 // sequence waited for; read by Available and Alerted
}

// Available implements Condition (E2).
func (p *processor[T]) Available() int64 { return p.available(p.next) }

// Alerted implements Condition (E4).
func (p *processor[T]) Alerted() bool { return p.next > p.d.seq.limit.Load() }

func (p *processor[T]) available(next int64) int64 {
	if p.deps != nil {
		return minimumSequence(p.deps, noLimit)
	}
	s := &p.d.seq
	if !s.multi {
		return s.cursor.v.Load()
	}
	return s.highestPublished(next, s.cursor.v.Load())
}

func (p *processor[T]) run() {
	defer p.d.processorExited()
	lc, _ := p.handler.(Lifecycle)
	if lc != nil {
		p.safeCall(lc.OnStart)
	}
	for !p.process() {
	}
	if lc != nil {
		p.safeCall(lc.OnShutdown)
	}
}

// process runs batches until the processor must stop (true), or until a
// handler panics (false, after the panic was reported and the entry skipped).
func (p *processor[T]) process() (stopped bool) {
	s := &p.d.seq
	entries, mask := p.d.entries, s.mask
	h := p.handler
	next := p.seq.v.Load() + 1
	cur := int64(-1) // the entry being handled, -1 outside a handler call
	defer func() {
		if r := recover(); r != nil { // E3
			if cur < 0 {
				panic(r) // not a handler's panic (a custom Waiter's?): not ours to swallow
			}
			p.fail(cur, nil, r, debug.Stack())
			p.seq.v.Store(cur)
			p.signals.signal()
		}
	}()
	for {
		avail := p.available(next) // then the limit (Q3)
		if lim := s.drainLimit(); avail > lim {
			avail = lim
		}
		if avail < next {
			if next > s.drainLimit() {
				return true // E4
			}
			p.next = next
			p.waiter.WaitFor(next, p)
			continue
		}
		if p.batchStart != nil {
			p.startBatch(avail - next + 1)
		}
		if fn := p.onEvent; fn != nil { // one indirect call instead of two
			for cur = next; cur <= avail; cur++ {
				if err := fn(&entries[cur&mask], cur, cur == avail); err != nil {
					p.fail(cur, err, nil, nil)
				}
			}
		} else {
			for cur = next; cur <= avail; cur++ {
				if err := h.OnEvent(&entries[cur&mask], cur, cur == avail); err != nil {
					p.fail(cur, err, nil, nil)
				}
			}
		}
		cur = -1
		p.seq.v.Store(avail) // E1
		p.signals.signal()
		next = avail + 1
	}
}

func (p *processor[T]) startBatch(n int64) {
	defer func() {
		if r := recover(); r != nil {
			p.fail(-1, nil, r, debug.Stack())
		}
	}()
	p.batchStart.OnBatchStart(n)
}

func (p *processor[T]) safeCall(f func()) {
	defer func() {
		if r := recover(); r != nil {
			p.fail(-1, nil, r, debug.Stack())
		}
	}()
	f()
}

func (p *processor[T]) fail(seq int64, err error, r any, stack []byte) {
	e := &HandlerError{
		Handler:  p.handler,
		Stage:    p.stage,
		Index:    p.index,
		Sequence: seq,
		Err:      err,
		Panic:    r,
		Stack:    stack,
	}
	if seq >= 0 {
		e.Entry = &p.d.entries[seq&p.d.seq.mask]
	}
	if r != nil {
		p.d.panics.Add(1)
	} else {
		p.d.errors.Add(1)
	}
	p.d.onError(e)
}
