package transport

// logEngine is the engine of a cluster node (Server.eng in cluster mode): it
// delegates to the node's current ring engine, which the follower replaces
// when the log lost entries the node had not applied (a rebase): the old
// engine is closed, so every stream on it ends cleanly and its client comes
// back through the exact resume path (cluster.go), with a reset that counts
// what the log lost.
//
// Invariants:
//   R1. cur changes only in rebase, under mu, and never after close; a
//       closed engine is never current again.
//   R2. A logSub that started on one engine ends (errEngineClosed) once it
//       is no longer current, so no client crosses a rebase unnoticed.

import (
	"sync"
	"sync/atomic"
)

type logEngine struct {
	cur atomic.Pointer[ringEngine]
	cfg *Config
	m   *serverMetrics

	mu     sync.Mutex // R1
	closed bool
}

func newLogEngine(e *ringEngine, cfg *Config, m *serverMetrics) *logEngine {
	le := &logEngine{cfg: cfg, m: m}
	le.cur.Store(e)
	return le
}

func (le *logEngine) publish(frames []*frame) (uint64, error) { return le.cur.Load().publish(frames) }

func (le *logEngine) subscribe(sel selection, res resumePoint) (subscription, []byte, error) {
	return le.cur.Load().subscribe(sel, res)
}

func (le *logEngine) maxLag() uint64    { return le.cur.Load().maxLag() }
func (le *logEngine) topicCount() int   { return le.cur.Load().topicCount() }
func (le *logEngine) cursorSeq() uint64 { return le.cur.Load().cursorSeq() }
func (le *logEngine) oldestSeq() uint64 { return le.cur.Load().oldestSeq() }

func (le *logEngine) close() {
	le.mu.Lock()
	defer le.mu.Unlock()
	le.closed = true
	le.cur.Load().close()
}

// rebase replaces the current engine by an empty one whose first frame will
// have seq base+1, and closes the old one (R1). It returns the new engine,
// or nil once closed.
func (le *logEngine) rebase(base uint64) *ringEngine {
	return le.replace(le.cur.Load().epoch, base)
}

// restart replaces the current engine by an empty one of another epoch, for
// a log that was recreated (L3), and closes the old one (R1); the follower
// sets its base before the first apply (F1). It returns the new engine, or
// nil once closed.
func (le *logEngine) restart(epoch string) *ringEngine { return le.replace(epoch, 0) }

func (le *logEngine) replace(epoch string, base uint64) *ringEngine {
	le.mu.Lock()
	defer le.mu.Unlock()
	if le.closed {
		return nil
	}
	old := le.cur.Load()
	e, err := newRingEngine(le.cfg, le.m)
	if err != nil { // the configuration was accepted once: cannot fail
		return nil
	}
	e.epoch = epoch
	e.base.Store(base)
	le.cur.Store(e)
	old.close()
	return e
}
