// Package disruptor is a lossless, in-process pipeline after the LMAX
// Disruptor: producers claim sequences on a ring of pre-allocated entries,
// fill them in place and publish them; a graph of handlers processes every
// published entry, in sequence order, each on its own goroutine. Nothing is
// dropped: a producer waits (or, with TryClaim, is refused) when the ring is
// full of entries that the last handlers of the graph have not finished.
//
// It is the lossless sibling of package ring, which never makes its writer
// wait and tells slow readers how much they missed instead.
//
// # Quick start
//
//	d, err := disruptor.New[Trade](1024)
//	if err != nil { ... }
//	d.HandleEventsWith(journal, replicate).Then(match) // a diamond
//	if err := d.Start(); err != nil { ... }
//
//	err = d.Publish(func(t *Trade) { t.Price, t.Qty = 101, 5 })
//
//	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//	defer cancel()
//	err = d.Shutdown(ctx) // drains everything published, then stops
//
// # Graphs
//
// Handlers in one group all see every entry (multicast) and run in parallel.
// Then adds a group that sees an entry only after every handler of the
// previous group has finished it, so it may read what they wrote into the
// entry:
//
//	d.HandleEventsWith(a, b, c)                  // multicast: a, b, c in parallel
//	d.HandleEventsWith(a).Then(b).Then(c)        // pipeline:  a → b → c
//	d.HandleEventsWith(a, b).Then(c)             // diamond:   a, b → c
//	d.After(g1, g2).Then(h)                      // h after two independent groups
//
// Each handler runs a batch loop: it waits once, then is called for every
// entry that became available, with endOfBatch set on the last one — the
// place to flush a buffered write. Producers are gated on the handlers at the
// end of the graph only; upstream handlers are gated by the downstream ones
// transitively.
//
// # Producers
//
// New creates a multi-producer disruptor, safe for any number of publishing
// goroutines. WithProducerType(SingleProducer) selects the single-producer
// sequencer, which needs no atomic read-modify-write on the publish path but
// must only ever be used from one goroutine at a time.
//
// Publish and PublishBatch are the one-call forms. Claim, Entry and Commit are
// the low-level form for producers that fill entries themselves:
//
//	lo, hi, err := d.Claim(16) // blocks while the ring is full
//	for s := lo; s <= hi; s++ { d.Entry(s).V = s }
//	err = d.Commit(lo, hi)
//
// TryClaim and TryPublish return ErrFull at once instead of waiting.
//
// # Waiting
//
// How handlers wait for entries, and producers for space, is a WaitStrategy.
// Blocking (the default) parks the goroutine and costs no CPU while idle;
// Sleeping, Yielding and BusySpin trade CPU for latency and are opt-in: a
// strategy that spins collapses when goroutines outnumber cores.
//
// # Errors and shutdown
//
// A handler that returns an error or panics is reported to the error handler
// (WithErrorHandler; by default it is logged with log/slog) and the pipeline
// goes on with the next entry; downstream handlers still see the entry.
// Shutdown stops new claims (they fail with ErrClosed), waits until every
// handler has processed everything published before, and stops the
// goroutines; if its context ends first it halts the handlers and reports how
// many entries were left unprocessed. A nil error from Publish or Commit
// means the entry will be processed unless Shutdown reports otherwise.
//
// # Memory model
//
// Entries are plain memory. A handler reads an entry only after an atomic load
// of a sequence that the producer (or the upstream handler) stored after
// writing it, and a producer rewrites an entry only after an atomic load of
// the sequence every last handler stored after reading it. Go's sync/atomic
// operations are sequentially consistent, so each of those pairs is a
// happens-before edge and the race detector checks the protocol under the
// package's stress tests.
package disruptor
