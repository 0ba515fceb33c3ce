package transport

// One client stream: a goroutine that waits on its subscription, writes
// whatever is ready in one write, and ends on departure, a slow-client
// verdict or shutdown.
//
// Invariants:
//   S1. Only the stream's goroutine writes to its connection, except that
//       Shutdown may close the connection to unblock a write that outlives
//       the shutdown deadline.
//   S2. The goroutine blocks only in fill (on a wake context), in a write
//       (bounded by --write-timeout) and in pace (at most one batch window;
//       beyond maxUninterruptedPace on the wake context too). Whoever needs
//       it to look up — the sweeper when a keep-alive is due, Shutdown —
//       fires the wake context.
//   S3. A stream is registered (streams, streamsWG) before it subscribes and
//       unregistered after it has closed its subscription, so that once
//       streamsWG is zero no stream holds a reader.
//   S4. Idle, a stream holds no batch buffer: batches come from a pool and
//       return to it after each write.
//   S5. A stream whose credential expires (a signed token's exp plus the
//       leeway, J2) ends within one sweeper tick of it, with "event: expired"
//       first: the sweeper fires its wake context once the time has come,
//       and the stream looks at the time whenever its context has fired,
//       busy or idle. expiresAt is set before the stream is registered and
//       never changes.
//   S6. A stream whose client has hung up (hungUp, set by the hang-up
//       watcher before it fires the wake context) ends at its next look:
//       every turn of run checks the flag, and a wake context stored after
//       the flag was set is fired at once, as after closing.
//
// A departed client is noticed when it departs: on Linux the hang-up watcher
// (hangup_linux.go) reports its FIN or reset. A client's half-close is a
// departure too (it has said it is done); bytes it sends on an open stream
// (a pipelined request) are not, and are never answered: the response never
// ends, and HTTP/1.1 answers requests in order. A stream reads nothing; the
// keep-alive peek drops what waits. Where the watcher is not (another
// system, a connection without a socket), the first write that fails
// notices, or, on an idle stream, the keep-alive: after writing it, the
// stream peeks at the socket without blocking and sees the client's FIN
// (peer_unix.go), within one keep-alive interval.

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type stream struct {
	srv        *Server
	conn       net.Conn
	chunked    bool
	hungUp     atomic.Bool // the client has gone (S6)
	hangup     hangupToken // the watch of the client's departure, 0 for none
	wake       atomic.Pointer[wakeCtx]
	lastWrite  atomic.Int64 // nanoseconds since srv.start
	deadline   int64        // the write deadline set last, Unix nanoseconds (the goroutine's own)
	activeTick uint64       // the pacer's tick this stream last counted itself active in (its own)
	expiresAt  int64        // when its credential expires, on the stream clock; 0: never (S5)
}

// wakeCtx is a cancel-only context the stream waits on, cheaper than
// context.WithCancel: the sweeper fires it, the stream replaces it.
type wakeCtx struct {
	done  chan struct{}
	fired atomic.Bool
}

func newWakeCtx() *wakeCtx { return &wakeCtx{done: make(chan struct{})} }

func (w *wakeCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (w *wakeCtx) Done() <-chan struct{}       { return w.done }
func (w *wakeCtx) Value(any) any               { return nil }
func (w *wakeCtx) Err() error {
	if w.fired.Load() {
		return context.Canceled
	}
	return nil
}
func (w *wakeCtx) fire() {
	if w.fired.CompareAndSwap(false, true) {
		close(w.done)
	}
}

var batchPool = sync.Pool{New: func() any {
	return &batch{buf: make([]byte, chunkRoom, 16<<10)}
}}

func getBatch() *batch { b := batchPool.Get().(*batch); b.reset(); return b }

func putBatch(b *batch) {
	if cap(b.buf) > 2*batchMaxBytes {
		return // let an outsized one go
	}
	b.reset()
	batchPool.Put(b)
}

// startStream opens one client's stream on a hijacked connection: it runs
// on the hijack goroutine, then hands the stream to a goroutine of its own.
// That goroutine starts small and only ever waits and writes, so an idle
// stream's stack stays at the minimum the runtime allows (S4).
func (s *Server) startStream(c net.Conn, req *streamRequest) {
	if u, ok := c.(interface{ UnsafeConn() net.Conn }); ok {
		c = u.UnsafeConn() // the raw connection: direct writes, and the peer check
	}
	st := &stream{srv: s, conn: c, chunked: !req.http10, expiresAt: req.expires}
	st.wake.Store(newWakeCtx())
	if !s.addStream(st) {
		writeRaw503(c)
		c.Close()
		return
	}
	sub, reset, err := s.subscribe(req.sel, req.res) // the engine's, or the log's first (cluster.go)
	if err != nil {
		writeRaw503(c)
		st.finish(nil, "")
		return
	}
	s.m.opened.Inc()
	b := getBatch()
	b.buf = append(b.buf, s.retryFrame...)
	if reset != nil {
		b.addRaw(reset)
	}
	head := s.appendHead(make([]byte, 0, 256), req)
	if req.head {
		st.setDeadline()
		_, _ = c.Write(head)
		putBatch(b)
		st.finish(sub, "")
		return
	}
	err = st.write(b, head)
	putBatch(b)
	if err != nil {
		st.finish(sub, writeReason(err))
		return
	}
	st.watchHangup()
	go st.serve(sub)
}

// watchHangup asks the hang-up watcher to tell the stream when its client
// departs; without it, the keep-alive peek notices.
func (st *stream) watchHangup() {
	w := st.srv.hangups
	if w == nil {
		return
	}
	tok, err := w.watch(st.conn, st)
	if err != nil {
		if !errors.Is(err, errHangupUnwatchable) {
			st.srv.log.Debug("departure not watched: noticed at the keep-alive", "err", err)
		}
		return
	}
	st.hangup = tok
	st.srv.nWatched.Add(1)
}

// hangUp is the watcher's word that the client has gone (S6, H4).
func (st *stream) hangUp() {
	st.hungUp.Store(true)
	st.wake.Load().fire()
}

func (st *stream) serve(sub subscription) { st.finish(sub, st.run(sub)) }

// finish releases what the stream holds (S3), counting why it ended.
func (st *stream) finish(sub subscription, reason string) {
	if sub != nil {
		sub.close()
	}
	if st.hangup != 0 {
		st.srv.hangups.forget(st.conn, st.hangup) // before the descriptor can be reused (H4)
		st.srv.nWatched.Add(-1)
	}
	st.conn.Close()
	if reason != "" {
		st.srv.m.disconnects[reason].Inc() // before Shutdown can see the stream gone
	}
	st.srv.removeStream(st)
}

// run is the stream's loop; it returns why the stream ended.
func (st *stream) run(sub subscription) string {
	s := st.srv
	paced := false
	for {
		if st.hungUp.Load() { // S6
			// A client that only half-closed still reads: end cleanly.
			st.end()
			return goneClient
		}
		w := st.wake.Load()
		if paced {
			// Pace before waiting, not after: a stream that has more to send
			// when the window ends finds it ready, without the writer having
			// to wake it.
			if d := s.pacer.current() - time.Duration(st.idle()); d > 0 {
				st.pace(d, w)
			}
			paced = false
		}
		err := sub.wait(w) // S4: no batch held while waiting
		if err == nil {
			b := getBatch()
			err = sub.fill(b)
			if !b.empty() {
				if werr := st.write(b, nil); werr != nil {
					putBatch(b)
					return writeReason(werr)
				}
				if h := s.testHookAfterWrite; h != nil {
					h()
				}
				paced = s.pacer.current() > 0
			}
			putBatch(b)
		}
		switch {
		case err == nil && (st.expiresAt == 0 || w.Err() == nil):
			continue // (a stream that may expire looks up when woken, even when busy: S5)
		case errors.Is(err, errSlowClient):
			st.end()
			return goneSlow
		case errors.Is(err, errEngineClosed):
			st.end()
			return goneClosed
		case w.Err() == nil:
			return goneWriteError // unreachable: wait fails only as above or on w
		}
		// The wake context fired: shutdown, or a keep-alive is due.
		if s.closing.Load() {
			st.drain(sub)
			st.end()
			return goneShutdown
		}
		if st.expired(int64(time.Since(s.start))) {
			if err := st.writeRaw(expiredFrame); err != nil {
				return writeReason(err)
			}
			st.end()
			return goneExpired
		}
		if st.idle() >= s.keepAliveDue {
			if err := st.writeRaw(keepAliveFrame); err != nil {
				return writeReason(err)
			}
			s.m.keepAlives.Inc()
			if peerClosed(st.conn) {
				return goneClient
			}
		}
		nw := newWakeCtx()
		st.wake.Store(nw)
		if s.closing.Load() || st.hungUp.Load() { // Shutdown or the watcher may have fired the old one just now (S6)
			nw.fire()
		}
	}
}

var (
	keepAliveFrame = []byte(": keep-alive\n\n")
	// expiredFrame tells a client that its token expired: it reconnects
	// (EventSource does so by itself) with a fresh one (docs/protocol.md).
	expiredFrame = []byte("event: " + EventExpired + "\ndata: {\"reason\":\"token-expired\"}\n\n")
)

// expired reports whether the stream's credential has expired at now (the
// stream clock).
func (st *stream) expired(now int64) bool { return st.expiresAt != 0 && now >= st.expiresAt }

// pace holds the stream for d, until a batch window has passed since its
// last write (pacing.go; S2 and S4: it holds no batch).
func (st *stream) pace(d time.Duration, w *wakeCtx) {
	if d <= maxUninterruptedPace {
		// The goroutine's own sleep timer: no allocation, no select. Shutdown
		// and keep-alives wait at most this long.
		time.Sleep(d)
		return
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-w.Done():
	}
	t.Stop()
}

// maxUninterruptedPace is the longest pause that need not watch the wake
// context.
const maxUninterruptedPace = 50 * time.Millisecond

// drain writes what is ready without waiting: the last look at shutdown.
func (st *stream) drain(sub subscription) {
	for {
		b := getBatch()
		err := sub.fill(b)
		empty := b.empty()
		if !empty && st.write(b, nil) != nil {
			err = errSlowClient // stop: the client is gone
		}
		putBatch(b)
		if err != nil || empty {
			return
		}
	}
}

// end finishes the response cleanly: the last chunk of a chunked body.
func (st *stream) end() {
	if st.chunked {
		st.setDeadline()
		_, _ = st.conn.Write([]byte("0\r\n\r\n"))
	}
}

func (st *stream) idle() int64 {
	return int64(time.Since(st.srv.start)) - st.lastWrite.Load()
}

func (st *stream) setDeadline() { st.setDeadlineFrom(time.Now()) }

func (st *stream) setDeadlineFrom(now time.Time) {
	d := now.Add(st.srv.cfg.WriteTimeout)
	_ = st.conn.SetWriteDeadline(d)
	st.deadline = d.UnixNano()
}

// refreshDeadline moves the write deadline forward when less than three
// quarters of --write-timeout is left: every write has at least that long,
// and most writes skip SetWriteDeadline (a timer update under the poller's
// lock: 5% of the server's CPU when done on every write).
func (st *stream) refreshDeadline(now time.Time) {
	timeout := st.srv.cfg.WriteTimeout
	if now.Add(timeout-timeout/4).UnixNano() > st.deadline {
		st.setDeadlineFrom(now)
	}
}

// write sends b as one chunk (preceded by head when not nil) in one write.
func (st *stream) write(b *batch, head []byte) error {
	p := b.buf
	start := chunkRoom
	if st.chunked {
		var hex [16]byte
		h := strconv.AppendUint(hex[:0], uint64(len(p)-chunkRoom), 16)
		start = chunkRoom - len(h) - 2
		copy(p[start:], h)
		p[chunkRoom-2], p[chunkRoom-1] = '\r', '\n'
		p = append(p, '\r', '\n')
		b.buf = p
	}
	p = p[start:]
	if head != nil {
		p = append(head, p...)
	}
	s := st.srv
	t0 := time.Now()
	st.refreshDeadline(t0)
	_, err := st.conn.Write(p)
	t1 := time.Now()
	st.lastWrite.Store(int64(t1.Sub(s.start)))
	if b.events > 0 {
		s.pacer.wrote(&st.activeTick)
		s.m.writeDur.Update(t1.Sub(t0).Seconds())
		s.m.batchSize.Update(float64(b.events))
		s.m.batchBytes.Update(float64(len(p)))
		s.m.delivered.Add(b.events)
		if b.replayed > 0 {
			s.m.replayed.Add(b.replayed)
		}
	}
	return err
}

// writeRaw writes p as one chunk of its own.
func (st *stream) writeRaw(p []byte) error {
	b := getBatch()
	defer putBatch(b)
	b.buf = append(b.buf, p...)
	return st.write(b, nil)
}

func writeReason(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return goneWriteTimeout
	}
	return goneWriteError
}

// appendHead appends the HTTP response head of a stream.
func (s *Server) appendHead(dst []byte, req *streamRequest) []byte {
	if req.http10 {
		dst = append(dst, "HTTP/1.0 200 OK\r\n"...)
	} else {
		dst = append(dst, "HTTP/1.1 200 OK\r\n"...)
	}
	dst = append(dst, "Server: ringcast\r\nDate: "...)
	dst = time.Now().UTC().AppendFormat(dst, "Mon, 02 Jan 2006 15:04:05 GMT")
	dst = append(dst, "\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"...)
	if req.origin != "" {
		dst = append(dst, "Access-Control-Allow-Origin: "...)
		dst = append(dst, req.origin...)
		dst = append(dst, "\r\n"...)
		if req.origin != "*" {
			dst = append(dst, "Vary: Origin\r\n"...)
		}
	}
	if req.http10 {
		dst = append(dst, "Connection: close\r\n"...)
	} else {
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	return append(dst, "\r\n"...)
}

func writeRaw503(c net.Conn) {
	body := `{"error":"` + ErrClosed.Error() + `"}` + "\n"
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body))
}

// addStream registers st unless the server is closing (S3).
func (s *Server) addStream(st *stream) bool {
	s.sweepOnce.Do(s.startSweeper)
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.streams[st] = struct{}{}
	s.streamsWG.Add(1)
	s.nStreams.Add(1)
	st.lastWrite.Store(int64(time.Since(s.start)))
	return true
}

func (s *Server) removeStream(st *stream) {
	s.streamsMu.Lock()
	delete(s.streams, st)
	s.streamsMu.Unlock()
	s.nStreams.Add(-1)
	s.streamsWG.Done()
}

// sweep wakes the streams whose keep-alive is due, every tick, and adjusts
// the automatic batch window every paceTick (pacing.go).
func (s *Server) sweep() {
	defer close(s.sweepDone)
	t := time.NewTicker(s.tick)
	defer t.Stop()
	var paceC <-chan time.Time
	if s.pacer.auto() {
		pt := time.NewTicker(paceTick)
		defer pt.Stop()
		paceC = pt.C
	}
	var due []*stream
	for {
		select {
		case <-s.sweepStop:
			return
		case now := <-paceC:
			s.pacer.adjust(now)
			continue
		case <-t.C:
		}
		now := int64(time.Since(s.start))
		closing := s.closing.Load()
		s.streamsMu.Lock()
		for st := range s.streams {
			if closing || now-st.lastWrite.Load() >= s.keepAliveDue || st.expired(now) {
				due = append(due, st)
			}
		}
		s.streamsMu.Unlock()
		for i, st := range due {
			st.wake.Load().fire()
			due[i] = nil
		}
		due = due[:0]
	}
}

// startSweeper starts the sweeper and the hang-up watcher with the first
// stream, so that a server that never streams holds neither.
func (s *Server) startSweeper() {
	if !s.testNoHangupWatch {
		w, err := newHangupWatcher()
		if err != nil {
			s.log.Warn("cannot watch for departures: a client that leaves is noticed at the next keep-alive", "err", err)
		}
		s.hangups = w
	}
	go s.sweep()
}

func (s *Server) stopSweeper() {
	started := true
	s.sweepOnce.Do(func() { started = false })
	if started {
		close(s.sweepStop)
		<-s.sweepDone
		if s.hangups != nil {
			s.hangups.close()
		}
	}
}

// kickStreams wakes every stream; with closing set, each ends.
func (s *Server) kickStreams() {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	for st := range s.streams {
		st.wake.Load().fire()
	}
}

// forceCloseStreams closes the connections of the streams still running
// (S1): a write stuck on a client that does not read returns at once.
func (s *Server) forceCloseStreams() int {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	for st := range s.streams {
		_ = st.conn.Close()
	}
	return len(s.streams)
}
