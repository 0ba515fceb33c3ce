package disruptor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// soak multiplies the work of the stress tests. RINGCAST_DISRUPTOR_SOAK=20
// runs them twenty times longer (minutes instead of seconds); the default of
// 1 keeps the whole package at about 20 s under -race on 2 cores.
var soak = func() int {
	n, err := strconv.Atoi(os.Getenv("RINGCAST_DISRUPTOR_SOAK"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}()

// maxHandlers bounds the handlers of one test graph (marks are per handler).
const maxHandlers = 8

// event is the entry type of the tests. The producer writes Seq, Producer and
// Count; handler i writes Marks[i] = seq+1 after checking the marks of its
// direct upstream handlers, so a downstream handler that ran before its
// upstream finished (or read a stale lap) sees a wrong mark.
type event struct {
	Seq      int64
	Producer int32
	Count    int64
	Marks    [maxHandlers]int64
}

// checker is a handler that verifies, for every call: sequences arrive in
// order without gaps, the entry holds what the producer wrote for this
// sequence, every direct upstream handler has finished it, per-producer
// counts are in order, and endOfBatch is set exactly on the last entry of
// the size announced by OnBatchStart.
type checker struct {
	t        testing.TB
	id       int
	upstream []int

	next      int64 // expected sequence
	seen      int64
	batchLeft int64
	perProd   [maxProducers]int64
	failed    bool
	lastEOB   bool
	started   atomic.Int32
	stopped   atomic.Int32
	onEvent   func(e *event, seq int64) // optional extra work / gating, runs first
}

const maxProducers = 8

func newChecker(t testing.TB, id int, upstream ...int) *checker {
	c := &checker{t: t, id: id, upstream: upstream}
	for i := range c.perProd {
		c.perProd[i] = -1
	}
	return c
}

func (c *checker) errorf(format string, args ...any) {
	if !c.failed { // one report per handler keeps a broken run readable
		c.failed = true
		c.t.Errorf("handler %d: "+format, append([]any{c.id}, args...)...)
	}
}

func (c *checker) OnStart()    { c.started.Add(1) }
func (c *checker) OnShutdown() { c.stopped.Add(1) }

func (c *checker) OnBatchStart(n int64) {
	if c.batchLeft != 0 {
		c.errorf("OnBatchStart(%d) with %d entries of the last batch left", n, c.batchLeft)
	}
	if n < 1 {
		c.errorf("OnBatchStart(%d)", n)
	}
	c.batchLeft = n
}

func (c *checker) OnEvent(e *event, seq int64, endOfBatch bool) error {
	if c.onEvent != nil {
		c.onEvent(e, seq)
	}
	if seq != c.next {
		c.errorf("got sequence %d, want %d", seq, c.next)
	}
	c.next = seq + 1
	c.seen++
	c.batchLeft--
	if endOfBatch != (c.batchLeft == 0) {
		c.errorf("seq %d: endOfBatch=%v with %d left in the batch", seq, endOfBatch, c.batchLeft)
	}
	c.lastEOB = endOfBatch
	if e.Seq != seq && e.Seq != -1 {
		c.errorf("seq %d: entry holds producer sequence %d (unpublished or stale entry)", seq, e.Seq)
	}
	for _, u := range c.upstream {
		if e.Marks[u] != seq+1 {
			c.errorf("seq %d: upstream handler %d has not finished it (mark %d)", seq, u, e.Marks[u])
		}
	}
	if p := e.Producer; p >= 0 && int(p) < maxProducers {
		if e.Count != c.perProd[p]+1 {
			c.errorf("seq %d: producer %d count %d after %d", seq, p, e.Count, c.perProd[p])
		}
		c.perProd[p] = e.Count
	} else {
		c.errorf("seq %d: bad producer %d", seq, p)
	}
	e.Marks[c.id] = seq + 1
	return nil
}

// scenario is one run: a ring, a sequencer, a wait strategy, a graph and a
// publishing pattern.
type scenario struct {
	sizeLog   int
	producer  ProducerType
	producers int
	wait      WaitStrategy
	// groups[i] lists, for group i, the groups it runs after (empty: the
	// first stage) and how many handlers it has.
	groups []groupSpec
	events int // per producer
	// maxClaim > 1 mixes Publish, PublishBatch and Claim/Commit with claims
	// of 1..maxClaim entries.
	maxClaim int
	seed     uint64
}

type groupSpec struct {
	after    []int
	handlers int
}

func (sc scenario) String() string {
	return fmt.Sprintf("size=%d/%v/%d-producers/%T/groups=%v/events=%d/claim<=%d",
		1<<sc.sizeLog, sc.producer, sc.producers, sc.wait, sc.groups, sc.events, sc.maxClaim)
}

// The topologies of the issue (and of LMAX's performance tests).
var (
	unicast   = []groupSpec{{handlers: 1}}
	multicast = []groupSpec{{handlers: 3}}
	pipeline  = []groupSpec{{handlers: 1}, {after: []int{0}, handlers: 1}, {after: []int{1}, handlers: 1}}
	diamond   = []groupSpec{{handlers: 2}, {after: []int{0}, handlers: 1}}
	// twoPipes joins two independent pipelines: After(a', b').Then(c).
	twoPipes = []groupSpec{{handlers: 1}, {handlers: 1}, {after: []int{0}, handlers: 1},
		{after: []int{1}, handlers: 1}, {after: []int{2, 3}, handlers: 2}}
)

// run builds and runs the scenario, checks every handler, and returns them.
func (sc scenario) run(t testing.TB) []*checker {
	t.Helper()
	opts := []Option{WithProducerType(sc.producer)}
	if sc.wait != nil {
		opts = append(opts, WithWaitStrategy(sc.wait))
	}
	var handlerErrs atomic.Int64
	opts = append(opts, WithErrorHandler(func(e *HandlerError) {
		handlerErrs.Add(1)
		t.Errorf("unexpected handler failure: %v", e)
	}))
	d, err := New[event](1<<sc.sizeLog, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var checkers []*checker
	var groups []*Group[event]
	groupIDs := [][]int{}
	for _, g := range sc.groups {
		var up []int
		var parents []*Group[event]
		for _, a := range g.after {
			up = append(up, groupIDs[a]...)
			parents = append(parents, groups[a])
		}
		var hs []Handler[event]
		var ids []int
		for range g.handlers {
			c := newChecker(t, len(checkers), up...)
			checkers = append(checkers, c)
			hs = append(hs, c)
			ids = append(ids, c.id)
		}
		var grp *Group[event]
		switch len(parents) {
		case 0:
			grp = d.HandleEventsWith(hs...)
		case 1:
			grp = parents[0].Then(hs...)
		default:
			grp = d.After(parents...).Then(hs...)
		}
		groups = append(groups, grp)
		groupIDs = append(groupIDs, ids)
	}
	if len(checkers) > maxHandlers {
		t.Fatalf("%d handlers, at most %d", len(checkers), maxHandlers)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for p := range sc.producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sc.produce(d, int32(p), rand.New(rand.NewPCG(sc.seed, uint64(p)))); err != nil {
				t.Errorf("producer %d: %v", p, err)
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	total := int64(sc.events * sc.producers)
	for _, c := range checkers {
		if c.seen != total {
			t.Errorf("%v: handler %d saw %d entries, want %d", sc, c.id, c.seen, total)
		}
		if total > 0 && !c.lastEOB {
			t.Errorf("%v: handler %d: last entry without endOfBatch", sc, c.id)
		}
		if c.batchLeft != 0 {
			t.Errorf("%v: handler %d: batch announced %d more entries", sc, c.id, c.batchLeft)
		}
		for p := range sc.producers {
			if got := c.perProd[p] + 1; got != int64(sc.events) {
				t.Errorf("%v: handler %d saw %d entries of producer %d, want %d", sc, c.id, got, p, sc.events)
			}
		}
		if c.started.Load() != 1 || c.stopped.Load() != 1 {
			t.Errorf("handler %d: OnStart %d times, OnShutdown %d times", c.id, c.started.Load(), c.stopped.Load())
		}
	}
	st := d.Stats()
	if st.Processed != total || st.HandlerErrors != 0 || st.HandlerPanics != 0 {
		t.Errorf("%v: stats %+v, want Processed %d and no failures", sc, st, total)
	}
	return checkers
}

// produce publishes sc.events entries for producer p, mixing the three ways
// to publish when maxClaim > 1.
func (sc scenario) produce(d *Disruptor[event], p int32, rng *rand.Rand) error {
	count := int64(0)
	maxClaim := max(1, min(sc.maxClaim, 1<<sc.sizeLog))
	for count < int64(sc.events) {
		n := 1
		if maxClaim > 1 && rng.IntN(4) != 0 {
			n = 1 + rng.IntN(maxClaim)
		}
		n = int(min(int64(n), int64(sc.events)-count))
		var err error
		switch rng.IntN(4) {
		case 0:
			if n == 1 {
				// Publish hides the sequence: Seq = -1 tells the checker to
				// rely on the producer's count to catch a stale entry.
				c := count
				err = d.Publish(func(e *event) { e.Seq, e.Producer, e.Count = -1, p, c })
				break
			}
			fallthrough
		case 1:
			base := count
			err = d.PublishBatch(n, func(i int, e *event) {
				e.Seq, e.Producer, e.Count = -1, p, base+int64(i)
			})
		case 2:
			// TryClaim, retrying on ErrFull: exercises the CAS path of the
			// multi-producer sequencer next to the others' atomic adds.
			var lo, hi int64
			for {
				lo, hi, err = d.TryClaim(n)
				if err != ErrFull {
					break
				}
				runtime.Gosched()
			}
			if err != nil {
				break
			}
			for s := lo; s <= hi; s++ {
				e := d.Entry(s)
				e.Seq, e.Producer, e.Count = s, p, count+(s-lo)
			}
			err = d.Commit(lo, hi)
		default:
			var lo, hi int64
			if lo, hi, err = d.Claim(n); err != nil {
				break
			}
			for s := lo; s <= hi; s++ {
				e := d.Entry(s)
				e.Seq, e.Producer, e.Count = s, p, count+(s-lo)
			}
			err = d.Commit(lo, hi)
		}
		if err != nil {
			return err
		}
		count += int64(n)
	}
	return nil
}
