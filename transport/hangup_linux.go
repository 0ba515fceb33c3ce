//go:build linux

package transport

// The hang-up watcher: notices a client's departure when its FIN or reset
// arrives, not at the stream's next write. Every watched stream's socket is
// registered with one epoll instance that the server owns; one goroutine
// parks in Go's netpoller on the epoll descriptor (internal/epoll, as the
// load generator's event loops do) and, for each socket reported, tells the
// stream, which ends itself. No goroutine, no buffer and no timer per
// connection: a watched stream costs a slot here (24 bytes) and the
// kernel's registration.
//
// Invariants:
//   H1. A socket is registered for EPOLLRDHUP with EPOLLONESHOT (EPOLLHUP and
//       EPOLLERR come unasked), never for EPOLLIN: bytes a client sends on
//       an open stream (a pipelined request) wake nobody; its FIN (whether it
//       closed or only shut down its sending side) or a reset is reported
//       once.
//   H2. An event carries a token (slot, generation), never a descriptor or a
//       pointer: a socket may be closed, and its descriptor number given to
//       a new stream, between epoll_wait and the event's handling. A slot's
//       generation changes when it is freed, so a token of a stream that has
//       been forgotten matches nothing and its event is dropped.
//   H3. epoll_ctl runs inside the socket's Control and the instance's Ctl:
//       neither descriptor can be closed (and its number reused) under it.
//       After close, Ctl fails and nothing is registered.
//   H4. The watcher only tells. A target's hangUp runs under the watcher's
//       lock, so it must neither block nor call the watcher (the stream's
//       sets a flag and fires its wake context: stream.go, S6); in exchange
//       no target is told once forget has returned. A target forgets its
//       token before it closes its socket, and only forget (or a watch that
//       failed) frees a slot, so a target is told at most once per watch.

import (
	"errors"
	"net"
	"sync"
	"syscall"

	"github.com/ringcast/ringcast/internal/epoll"
)

// hangupEvents is how many reports one epoll_wait takes at most.
const hangupEvents = 128

// hangupTarget is what the watcher tells of a departure (H4).
type hangupTarget interface{ hangUp() }

// hangupToken names one watch: the slot in its low 32 bits, the slot's
// generation in its high 32. 0 is no watch.
type hangupToken uint64

func (t hangupToken) slot() uint32 { return uint32(t) }
func (t hangupToken) gen() uint32  { return uint32(t >> 32) }

type hangupSlot struct {
	gen uint32 // >= 1 (H2)
	t   hangupTarget
}

type hangupWatcher struct {
	ep   *epoll.Instance
	done chan struct{} // closed when run has returned

	mu    sync.Mutex
	slots []hangupSlot
	free  []uint32
}

// errHangupUnwatchable: the connection has no socket to watch (net.Pipe, a
// wrapper that hides SyscallConn); its stream relies on the keep-alive peek.
var errHangupUnwatchable = errors.New("transport: connection has no socket to watch for hang-ups")

// newHangupWatcher creates the epoll instance and starts its goroutine; stop
// it with close.
func newHangupWatcher() (*hangupWatcher, error) {
	ep, err := epoll.New()
	if err != nil {
		return nil, err
	}
	w := &hangupWatcher{ep: ep, done: make(chan struct{})}
	go w.run()
	return w, nil
}

// close stops the goroutine and closes the epoll instance; later watches
// fail. Streams still watched are not told.
func (w *hangupWatcher) close() {
	w.ep.Close() // wakes run's wait with an error
	<-w.done
}

// watch registers c's socket: when its client hangs up, t.hangUp runs once
// on the watcher's goroutine. Pass the token to forget before closing c.
func (w *hangupWatcher) watch(c net.Conn, t hangupTarget) (hangupToken, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, errHangupUnwatchable
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	tok := w.alloc(t)
	var ctlErr error
	err = rc.Control(func(fd uintptr) { // H3
		ctlErr = w.ep.Ctl(syscall.EPOLL_CTL_ADD, int(fd), &syscall.EpollEvent{
			Events: syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, // H1
			Fd:     int32(tok.slot()),
			Pad:    int32(tok.gen()),
		})
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		w.release(tok)
		return 0, err
	}
	return tok, nil
}

// forget ends the watch tok of c; call it before closing c (H4). The socket
// leaves the epoll set here while c is open; once c is closed the kernel
// has taken it out already.
func (w *hangupWatcher) forget(c net.Conn, tok hangupToken) {
	if tok == 0 {
		return
	}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { // H3
				_ = w.ep.Ctl(syscall.EPOLL_CTL_DEL, int(fd), nil)
			})
		}
	}
	w.release(tok)
}

func (w *hangupWatcher) alloc(t hangupTarget) hangupToken {
	w.mu.Lock()
	defer w.mu.Unlock()
	var i uint32
	if n := len(w.free); n > 0 {
		i = w.free[n-1]
		w.free = w.free[:n-1]
	} else {
		i = uint32(len(w.slots))
		w.slots = append(w.slots, hangupSlot{gen: 1})
	}
	w.slots[i].t = t
	return hangupToken(i) | hangupToken(w.slots[i].gen)<<32
}

// release frees tok's slot under a new generation (H2).
func (w *hangupWatcher) release(tok hangupToken) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.slots[tok.slot()]
	if s.gen != tok.gen() {
		return
	}
	s.t = nil
	if s.gen++; s.gen == 0 {
		s.gen = 1
	}
	w.free = append(w.free, tok.slot())
}

// watched returns how many sockets are watched now.
func (w *hangupWatcher) watched() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.slots) - len(w.free)
}

func (w *hangupWatcher) run() {
	defer close(w.done)
	events := make([]syscall.EpollEvent, hangupEvents)
	for {
		n, err := w.ep.Wait(events)
		if err != nil {
			return // closed; epoll_wait fails on nothing else that retrying would mend
		}
		w.tell(events[:n])
	}
}

// tell runs the hangUp of each reported target whose watch is still on
// (H2). It holds the lock throughout, so that no target is told once forget
// has returned (H4).
func (w *hangupWatcher) tell(events []syscall.EpollEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range events {
		tok := hangupToken(uint32(events[i].Fd)) | hangupToken(uint32(events[i].Pad))<<32
		if s := &w.slots[tok.slot()]; s.gen == tok.gen() && s.t != nil {
			s.t.hangUp()
		}
	}
}
