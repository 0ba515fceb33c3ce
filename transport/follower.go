package transport

// The follower: in cluster mode, the one writer of the node's ring. It reads
// the whole event log with one ordered consumer and publishes each entry into
// the ring engine, so every node holds the same frames, byte for byte, under
// the same ids, whichever node the event was published to.
//
// Invariants:
//   F1. The follower is the only caller of the engine's publish in cluster
//       mode (Publish appends to the log and returns the log's ids). It
//       applies entries in log order and checks that each has seq
//       applied+1, so E2 holds as seq = base + ring position. base is fixed
//       before the first entry is applied; an entry that is not applied+1
//       (the log lost entries: L1 allows it only at the head) makes the node
//       rebase onto a new, empty engine whose base is that entry's seq - 1
//       (logengine.go).
//   F2. applied is the seq of the ring's newest frame. After each apply the
//       follower closes changed and replaces it, under mu: a waiter that
//       found applied too low under mu and then waits on changed cannot miss
//       the apply that raises it.
//   F3. ready becomes true once the follower has applied everything the
//       log held at some moment after it began (an entry read with none
//       pending, or an empty log), and stays true until the log is
//       recreated (L3), when the follower begins again.
//   F4. keys maps the idempotency keys of the entries applied within the
//       last keyRetention to their seq (a batch's first); it is read and
//       written under mu.

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"

	"github.com/ringcast/ringcast/transport/internal/eventid"
)

// keyRetention is how long a node remembers an applied idempotency key:
// beyond JetStream's duplicate window (2 minutes by default), after which
// the log stores a retry as new anyway.
const keyRetention = 5 * time.Minute

type follower struct {
	eng     *logEngine
	lg      *slog.Logger
	applied atomic.Uint64
	ready   atomic.Bool
	lastAt  atomic.Int64  // UnixNano of the last apply
	stop    func()        // set by begin; called by the cluster's close or recreate, one at a time
	target  atomic.Uint64 // the log's last seq when the follower began: the prefill's end

	// testHookApply, when set, runs before each apply (tests hold the
	// follower back with it).
	testHookApply atomic.Pointer[func()]

	appliedEvents, gaps *metrics.Counter

	mu      sync.Mutex
	changed chan struct{} // F2
	keys    map[string]uint64
	keyLog  []keyAt // keys in the order applied, for expiry
}

type keyAt struct {
	key string
	seq uint64
	at  time.Time
}

// startFollower positions the engine's ring at the log's last capacity
// entries (the prefill) and starts following from there.
func startFollower(l eventLog, eng *logEngine, set *metrics.Set, lg *slog.Logger) (*follower, error) {
	f := &follower{
		eng:     eng,
		lg:      lg,
		changed: make(chan struct{}),
		keys:    map[string]uint64{},

		appliedEvents: set.NewCounter("ringcast_log_applied_events_total"),
		gaps:          set.NewCounter("ringcast_log_gaps_total"),
	}
	if err := f.begin(l); err != nil {
		return nil, err
	}
	return f, nil
}

// begin positions the current engine's ring, empty, at the log's last
// capacity entries (the prefill) and follows the log from there.
func (f *follower) begin(l eventLog) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, last, err := l.bounds(ctx)
	if err != nil {
		return err
	}
	eng := f.eng.cur.Load()
	start := first
	if c := uint64(eng.global.Cap()); last >= c && last-c+1 > start {
		start = last - c + 1
	}
	f.target.Store(last)
	eng.base.Store(start - 1) // F1: before the first apply
	f.applied.Store(start - 1)
	if last < start {
		f.ready.Store(true) // F3: nothing to prefill
	}
	f.lastAt.Store(time.Now().UnixNano())
	stop, err := l.follow(start, f.apply)
	if err != nil {
		return err // f.stop stays the last one, which may be called again
	}
	f.stop = stop
	return nil
}

// restart follows a log that was recreated (L3) from its start, into the
// engine the cluster has just replaced by an empty one of the new epoch:
// what the follower knew of the old log (its keys, its position, whether
// it had caught up) is forgotten, and waiters look again (F2).
func (f *follower) restart(l eventLog) error {
	f.stop() // JS2: bounded
	f.mu.Lock()
	f.ready.Store(false)
	clear(f.keys)
	f.keyLog = f.keyLog[:0]
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	return f.begin(l)
}

// apply publishes entries, in order, into the ring (F1). An entry that is
// not the successor of the last applied one means the log lost entries this
// node had not applied: the node rebases (logengine.go) and goes on from it.
func (f *follower) apply(entries []logEntry) {
	if h := f.testHookApply.Load(); h != nil {
		(*h)()
	}
	now := time.Now()
	frames := make([]*frame, 0, len(entries))
	f.mu.Lock()
	defer f.mu.Unlock()
	eng := f.eng.cur.Load()
	next := f.applied.Load() + 1
	for i := range entries {
		e := &entries[i]
		if e.seq != next {
			if !f.publish(eng, frames, now) {
				return // closed: the server is shutting down
			}
			frames = frames[:0]
			if eng.global.Cursor() == 0 {
				// Nothing applied yet (the log lost its head between bounds
				// and the first read): the ring may start here.
				eng.base.Store(e.seq - 1)
			} else {
				f.gaps.Inc()
				f.lg.Error("event log: the log lost entries this node had not applied; every stream ends and resumes from the log",
					"expected", next, "got", e.seq)
				if eng = f.eng.rebase(e.seq - 1); eng == nil {
					return
				}
			}
			f.applied.Store(e.seq - 1)
			next = e.seq
		}
		frames = append(frames, logFrame(e.topic, e.body))
		if e.key != "" {
			f.keys[e.key] = e.seq
			f.keyLog = append(f.keyLog, keyAt{e.key, e.seq, now})
		}
		next++
	}
	f.expireKeys(now)
	if f.publish(eng, frames, now) && entries[len(entries)-1].pending == 0 {
		f.ready.Store(true) // F3
	}
}

// publish publishes frames into eng and wakes the waiters (F2). Called
// with mu held. It returns false once the engine is closed.
func (f *follower) publish(eng *ringEngine, frames []*frame, now time.Time) bool {
	if len(frames) == 0 {
		return true
	}
	if _, err := eng.publish(frames); err != nil {
		return false
	}
	f.appliedEvents.Add(len(frames))
	f.lastAt.Store(now.UnixNano())
	f.applied.Store(frames[len(frames)-1].seq)
	close(f.changed) // F2
	f.changed = make(chan struct{})
	return true
}

// expireKeys forgets the keys older than keyRetention. Called with mu held.
func (f *follower) expireKeys(now time.Time) {
	n := 0
	for n < len(f.keyLog) && now.Sub(f.keyLog[n].at) > keyRetention {
		if k := f.keyLog[n]; f.keys[k.key] == k.seq {
			delete(f.keys, k.key)
		}
		n++
	}
	if n > 0 {
		f.keyLog = append(f.keyLog[:0], f.keyLog[n:]...)
	}
}

// waitFor waits until ok, called under mu, holds after some apply (F2).
func (f *follower) waitFor(ctx context.Context, ok func() bool) error {
	for {
		f.mu.Lock()
		done, ch := ok(), f.changed
		f.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitApplied waits until the ring holds seq.
func (f *follower) waitApplied(ctx context.Context, seq uint64) error {
	return f.waitFor(ctx, func() bool { return f.applied.Load() >= seq })
}

// waitKey waits until an entry with key was applied and returns its seq.
func (f *follower) waitKey(ctx context.Context, key string) (uint64, error) {
	var seq uint64
	err := f.waitFor(ctx, func() bool { seq = f.keys[key]; return seq != 0 })
	return seq, err
}

// logFrame builds the frame of a log entry, the same bytes as encodeFrame
// makes of the event on the node that published it. A body this package
// cannot have written (someone else published on the stream's subjects)
// keeps its place as an id without an event: a client's id moves past it,
// and nothing is dispatched.
func logFrame(topic string, body []byte) *frame {
	if !validBody(body) {
		body = []byte("\n")
	}
	buf := make([]byte, idRoom, idRoom+len("/")+len(topic)+len("\n")+len(body))
	buf = eventid.AppendTopic(buf, topic)
	buf = append(buf, '\n')
	buf = append(buf, body...)
	return &frame{topic: topic, buf: buf}
}

// validBody reports whether b is what sse.AppendEvent writes: an optional
// "event: " line, "data: " lines and a blank line, in valid UTF-8 without CR
// or NUL.
func validBody(b []byte) bool {
	n := len(b)
	if n < len("data: \n\n") || b[n-1] != '\n' || b[n-2] != '\n' || !utf8.Valid(b) || bytes.ContainsAny(b, "\r\x00") {
		return false
	}
	first := true
	for line := range bytes.SplitSeq(b[:n-2], []byte{'\n'}) {
		if !bytes.HasPrefix(line, []byte("data: ")) && !(first && bytes.HasPrefix(line, []byte("event: "))) {
			return false
		}
		first = false
	}
	return true
}
