package disruptor

// The consumer graph, built before Start in the style of LMAX's DSL:
// HandleEventsWith(a, b).Then(c).
//
// Invariants:
//   G1. The graph is a DAG by construction: a group can only depend on
//       groups that already exist. It is frozen at Start; wiring after Start
//       panics, since it is a programming error that would otherwise race
//       with running handlers.
//   G2. A handler's upstream list is deduplicated; its stage is one more
//       than the deepest upstream handler's (0 for the first stage).
//   G3. A handler with no downstream is "at the end of the graph"; the
//       producers gate on exactly those (Q1). Start derives the signal lists
//       (E1) from the same edges: a handler signals its downstream handlers,
//       an end-of-graph handler also the producers, and the producers signal
//       the first stage.
//   G4. Wiring mistakes (no handlers, a nil handler, a group of another
//       disruptor) are recorded and returned by Start, so the fluent calls
//       need no error checks in between.

import (
	"errors"
	"fmt"
)

// A Group is a set of handlers added together. Every handler of a group sees
// every entry, in parallel with the others; Then adds handlers that see an
// entry only after every handler of the group has finished it.
type Group[T any] struct {
	d     *Disruptor[T]
	procs []*processor[T]
}

// HandleEventsWith adds handlers that process every published entry, each on
// its own goroutine and in parallel with the others (a multicast). It must be
// called before Start.
func (d *Disruptor[T]) HandleEventsWith(handlers ...Handler[T]) *Group[T] {
	return d.addGroup("HandleEventsWith", nil, handlers)
}

// Then adds handlers that process an entry only after every handler of g has
// finished it, so they may read what g's handlers wrote into it. With one
// handler per call it builds a pipeline; after a multi-handler group, a
// diamond.
func (g *Group[T]) Then(handlers ...Handler[T]) *Group[T] {
	return g.d.addGroup("Then", g.procs, handlers)
}

// After returns a group made of the handlers of groups, so that its Then adds
// handlers that wait for all of them:
//
//	a := d.HandleEventsWith(journal)
//	b := d.HandleEventsWith(replicate)
//	d.After(a, b).Then(match)
func (d *Disruptor[T]) After(groups ...*Group[T]) *Group[T] {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mustBeNew("After")
	merged := &Group[T]{d: d}
	if len(groups) == 0 {
		d.recordBuildErr(errors.New("disruptor: After with no groups"))
	}
	for _, g := range groups {
		if g == nil || g.d != d {
			d.recordBuildErr(errors.New("disruptor: After given a group of another disruptor (or nil)"))
			continue
		}
		merged.procs = append(merged.procs, g.procs...)
	}
	return merged
}

func (d *Disruptor[T]) addGroup(op string, upstream []*processor[T], handlers []Handler[T]) *Group[T] {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mustBeNew(op)
	g := &Group[T]{d: d}
	if len(handlers) == 0 {
		d.recordBuildErr(fmt.Errorf("disruptor: %s with no handlers", op))
		return g
	}
	upstream = dedupe(upstream) // G2
	stage := 0
	for _, u := range upstream {
		stage = max(stage, u.stage+1)
	}
	for i, h := range handlers {
		if h == nil {
			d.recordBuildErr(fmt.Errorf("disruptor: %s: handler #%d is nil", op, i))
			continue
		}
		p := &processor[T]{d: d, handler: h, upstream: upstream, stage: stage, index: i}
		p.seq.v.Store(initialSequence)
		p.batchStart, _ = h.(BatchStarter)
		if f, ok := h.(HandlerFunc[T]); ok {
			p.onEvent = f
		}
		for _, u := range upstream {
			u.downstream = true
			p.deps = append(p.deps, &u.seq)
		}
		d.procs = append(d.procs, p)
		g.procs = append(g.procs, p)
	}
	return g
}

func (d *Disruptor[T]) mustBeNew(op string) {
	if d.seq.state() != stateNew {
		panic("disruptor: " + op + " called after Start or Shutdown")
	}
}

func (d *Disruptor[T]) recordBuildErr(err error) {
	if d.buildErr == nil {
		d.buildErr = err
	}
}

// wire derives the gating and signal lists (G3); called by Start with d.mu
// held, before any goroutine runs.
func (d *Disruptor[T]) wire() error {
	s := &d.seq
	s.capacity = d.strategy.NewWaiter()
	if s.capacity == nil {
		return errors.New("disruptor: WaitStrategy.NewWaiter returned nil")
	}
	for _, p := range d.procs {
		if p.waiter = d.strategy.NewWaiter(); p.waiter == nil {
			return errors.New("disruptor: WaitStrategy.NewWaiter returned nil")
		}
	}
	for _, p := range d.procs {
		if len(p.upstream) == 0 {
			s.readers.add(p.waiter)
			if bw, ok := p.waiter.(*blockingWaiter); ok {
				bw.ctl = &s.ctl // B6
			}
		}
		for _, u := range p.upstream {
			u.signals.add(p.waiter)
		}
		if !p.downstream {
			s.gating = append(s.gating, &p.seq)
			p.signals.add(s.capacity)
		}
	}
	if len(s.readers.custom) > 0 {
		s.ctl.Add(ctlCustom) // Q5: signal on every publish
	}
	return nil
}

func dedupe[T any](procs []*processor[T]) []*processor[T] {
	var out []*processor[T]
	for _, p := range procs {
		dup := false
		for _, q := range out {
			dup = dup || p == q
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}
