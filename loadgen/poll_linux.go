//go:build linux

package loadgen

// Event loop invariants (the epoll reader):
//
//   - A pollLoop is one goroutine with one level-triggered epoll instance. It
//     takes ready sockets with a non-blocking epoll_wait and parks only when
//     there are none, in Go's netpoller, on the epoll descriptor itself
//     (readable while its ready list is not empty): no thread sits in a
//     blocking system call holding a P, and it yields after each batch so
//     that the publisher and the hiccup meter are not held back. It
//     owns every stream registered with it: the socket's file descriptor and,
//     until the stream ends, its subscriber (parser, chunk decoder, positions,
//     counters). A subscriber's goroutine hands a stream over through the
//     mutex-guarded adds queue and a byte on the wake pipe (written under the
//     mutex, and never once the loop has stopped); the loop answers
//     exactly once on the stream's done channel, after which the goroutine
//     owns the subscriber again. The mutex and the channel are the
//     happens-before edges; epoll itself carries none.
//   - Each readiness gets one recvmsg(2) into the loop's buffer; the bytes go
//     through the same chunk decoder, parser and accounting as the goroutine
//     reader before the next read, so the buffer is free again. A read that
//     finds nothing (EAGAIN, EINTR) is dropped: level triggering reports the
//     socket again while bytes wait.
//   - Latency ends when the bytes reached the socket, not when the loop got
//     round to reading them: every stream asks for the kernel's receive
//     timestamps (SO_TIMESTAMPNS), and a read carries the time its last
//     bytes arrived. Events from earlier arrivals in the same read get that
//     later time, so their latency is overstated, never understated. Where a
//     read has no timestamp (bytes queued before the option was set, or
//     before the kernel turned stamping on: it does so in a work item
//     shortly after the first socket in the system asks) the read time
//     stands. The gap between arrival and read, the load generator's own
//     delay, is kept apart (readDelay).
//   - The socket is a duplicate of the dialled connection's, which is closed
//     at hand-over: Go's netpoller no longer watches it, so an arrival costs
//     one epoll report and one read instead of a netpoller wake-up, a
//     goroutine switch, the read and a second read that returns EAGAIN.
//   - Only the loop removes and closes a registered descriptor, exactly once:
//     when its stream ends (EOF, error, end of the body) or when the loop
//     stops. The context's end stops the loop (through the wake pipe); it
//     closes every stream it owns, answers each with errLoopStopped, flushes
//     its latency recorder and refuses later hand-overs.

import (
	"cmp"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ringcast/ringcast/internal/epoll"
)

const pollSupported = true

// errLoopStopped answers a stream whose loop stopped with the run.
var errLoopStopped = errors.New("event loop stopped")

// pollEvents is how many readiness reports one epoll_wait returns at most,
// and so how many reads a loop makes between yields (about 100 µs here).
const pollEvents = 16

type pollStream struct {
	fd        int
	s         *subscriber
	head      streamHead
	remaining int64
	done      chan error
}

type pollLoop struct {
	ep           *epoll.Instance // parks in Go's netpoller (internal/epoll)
	wakeR, wakeW int
	buf          []byte
	rec          denseRecorder

	// One recvmsg's arguments, set up once: a read allocates nothing.
	iov syscall.Iovec
	msg syscall.Msghdr
	oob [8]uint64 // control messages; uint64 for the alignment of a cmsghdr
	// readDelay is how long the bytes of each timestamped read of the
	// measured phase waited in the socket (µs): the load generator's delay,
	// not the server's.
	readDelay *hdrhistogram.Histogram
	streams   []*pollStream // by descriptor

	mu       sync.Mutex
	adds     []*pollStream
	stopping bool
	stopped  bool
}

// pollGroup is the run's event loops.
type pollGroup struct {
	loops []*pollLoop
	wg    sync.WaitGroup
}

// startPollGroup starts GOMAXPROCS loops that stop when ctx ends; wait for
// them with wait.
func startPollGroup(ctx context.Context, readBuffer int, coll *collector) (*pollGroup, error) {
	g := &pollGroup{}
	for range runtime.GOMAXPROCS(0) {
		l, err := newPollLoop(readBuffer, coll)
		if err != nil {
			for _, l := range g.loops {
				l.closeFDs()
			}
			return nil, err
		}
		g.loops = append(g.loops, l)
	}
	for _, l := range g.loops {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			l.run()
		}()
		context.AfterFunc(ctx, l.stop)
	}
	return g, nil
}

func (g *pollGroup) wait() { g.wg.Wait() }

// readDelay merges the loops' read delays; call it after wait.
func (g *pollGroup) readDelay() *hdrhistogram.Histogram {
	h := newDense()
	for _, l := range g.loops {
		h.Merge(l.readDelay)
	}
	return h
}

func newPollLoop(readBuffer int, coll *collector) (*pollLoop, error) {
	ep, err := epoll.New()
	if err != nil {
		return nil, err
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		ep.Close()
		return nil, os.NewSyscallError("pipe2", err)
	}
	l := &pollLoop{ep: ep, wakeR: p[0], wakeW: p[1], readDelay: newDense()}
	l.setBuffer(make([]byte, cmp.Or(readBuffer, loopReadBuffer)))
	l.rec.coll = coll
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.wakeR)}
	if err := l.ep.Ctl(syscall.EPOLL_CTL_ADD, l.wakeR, &ev); err != nil {
		l.closeFDs()
		return nil, err
	}
	return l, nil
}

func (l *pollLoop) closeFDs() {
	l.ep.Close()
	syscall.Close(l.wakeR)
	syscall.Close(l.wakeW)
}

// wakeLocked makes the loop look at its queue; l.mu is held and the loop has
// not stopped, so the pipe is still open (a closed descriptor's number may
// already belong to someone else's socket). A full pipe already holds a
// wake-up.
func (l *pollLoop) wakeLocked() {
	b := [1]byte{1}
	for {
		_, err := syscall.Write(l.wakeW, b[:])
		if err != syscall.EINTR {
			return
		}
	}
}

func (l *pollLoop) stop() {
	l.mu.Lock()
	if !l.stopped {
		l.stopping = true
		l.wakeLocked()
	}
	l.mu.Unlock()
}

// serve hands the stream on conn to the loop and waits until it ends. ok is
// false when the loop has stopped before taking it: conn is untouched and the
// caller reads it itself.
func (l *pollLoop) serve(s *subscriber, conn net.Conn, head streamHead, remaining int64) (err error, ok bool) {
	l.mu.Lock()
	stopped := l.stopped || l.stopping
	l.mu.Unlock()
	if stopped {
		return nil, false
	}
	fd, err := detach(conn)
	if err != nil {
		return &streamError{"read", err}, true
	}
	st := &pollStream{fd: fd, s: s, head: head, remaining: remaining, done: make(chan error, 1)}
	l.mu.Lock()
	if l.stopped || l.stopping {
		l.mu.Unlock()
		syscall.Close(fd)
		return errLoopStopped, true
	}
	s.rec = &l.rec
	l.adds = append(l.adds, st)
	l.wakeLocked()
	l.mu.Unlock()
	s.env.loopStreams.Add(1)
	return <-st.done, true
}

// detach returns a non-blocking duplicate of conn's socket and closes conn,
// which takes the original out of Go's netpoller.
func detach(conn net.Conn) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		conn.Close()
		return -1, errors.New("connection has no file descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		conn.Close()
		return -1, err
	}
	fd := -1
	var dupErr error
	if err := raw.Control(func(s uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			dupErr = os.NewSyscallError("fcntl", e)
			return
		}
		fd = int(r)
	}); err != nil {
		dupErr = err
	}
	conn.Close()
	if dupErr != nil {
		return -1, dupErr
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return fd, nil
}

func (l *pollLoop) run() {
	events := make([]syscall.EpollEvent, pollEvents)
	for {
		// Take what is ready; park in the netpoller only when nothing is.
		n, err := l.ep.Wait(events)
		if err != nil {
			l.shutdown(&streamError{"read", err})
			return
		}
		for i := range events[:n] {
			fd := int(events[i].Fd)
			if fd == l.wakeR {
				if l.takeAdds() {
					l.shutdown(errLoopStopped)
					return
				}
				continue
			}
			if fd < len(l.streams) && l.streams[fd] != nil {
				l.read(l.streams[fd])
			}
		}
		// A busy loop never blocks, so without this the publisher, the
		// hiccup meter and the other loop would wait for preemption (10 ms)
		// whenever every P runs a loop.
		runtime.Gosched()
	}
}

// takeAdds registers the queued streams; true when the loop must stop.
func (l *pollLoop) takeAdds() bool {
	var b [64]byte
	for {
		if n, err := syscall.Read(l.wakeR, b[:]); n <= 0 && err != syscall.EINTR {
			break
		}
	}
	l.mu.Lock()
	adds, stopping := l.adds, l.stopping
	l.adds = nil
	l.mu.Unlock()
	for _, st := range adds {
		if stopping {
			l.end(st, errLoopStopped, false)
			continue
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(st.fd)}
		if err := l.ep.Ctl(syscall.EPOLL_CTL_ADD, st.fd, &ev); err != nil {
			l.end(st, &streamError{"read", err}, false)
			continue
		}
		// Without timestamps the read time stands in for the arrival.
		_ = syscall.SetsockoptInt(st.fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
		if st.fd >= len(l.streams) {
			l.streams = append(l.streams, make([]*pollStream, st.fd+1-len(l.streams))...)
		}
		l.streams[st.fd] = st
	}
	return stopping
}

// read does one recvmsg(2) for a ready stream, as the goroutine reader's
// loop body does one conn.Read.
func (l *pollLoop) read(st *pollStream) {
	n, arrival, err := l.recv(st.fd)
	s := st.s
	if n > 0 {
		t := time.Now()
		s.recvNs = s.env.clock.at(t) // R1
		if d := t.UnixNano() - arrival; arrival > 0 && d >= 0 && d < maxReadDelay {
			s.recvNs -= d
			if s.env.measure.running() {
				l.readDelay.RecordValue(latencyUs(d))
			}
		}
		if ferr := s.consume(l.buf[:n], st.head, &st.remaining); ferr != nil {
			l.end(st, ferr, true)
			return
		}
		s.publishProgress()
		if st.remaining == 0 || (st.head.chunked && s.dec.done()) {
			l.end(st, &streamError{"closed", io.EOF}, true)
		}
		return
	}
	switch {
	case n == 0:
		l.end(st, &streamError{"closed", io.EOF}, true)
	case err == syscall.EAGAIN || err == syscall.EINTR:
	default:
		l.end(st, &streamError{"read", os.NewSyscallError("read", err)}, true)
	}
}

// maxReadDelay bounds the arrival-to-read gap believed: a timestamp further
// back than this (the wall clock stepped) is ignored for the read time.
const maxReadDelay = int64(10 * time.Second)

// setBuffer makes buf the loop's read buffer and points recv's arguments at it.
func (l *pollLoop) setBuffer(buf []byte) {
	l.buf = buf
	l.iov.Base = &l.buf[0]
	l.iov.SetLen(len(l.buf))
	l.msg.Iov = &l.iov
	l.msg.Iovlen = 1
	l.msg.Control = (*byte)(unsafe.Pointer(&l.oob[0]))
}

// recv reads once from fd into l.buf. arrival is the kernel's receive
// timestamp of the last bytes read (Unix nanoseconds), 0 when there is none.
func (l *pollLoop) recv(fd int) (n int, arrival int64, err error) {
	l.msg.SetControllen(int(unsafe.Sizeof(l.oob)))
	l.msg.Flags = 0
	r, _, e := syscall.Syscall(syscall.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&l.msg)), 0)
	if e != 0 {
		return -1, 0, e
	}
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&l.oob[0])), int(l.msg.Controllen))
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		size := int(h.Len)
		if size < syscall.SizeofCmsghdr || size > len(oob) {
			break
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && size >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			arrival = (*syscall.Timespec)(unsafe.Pointer(&oob[syscall.CmsgLen(0)])).Nano()
		}
		oob = oob[min(syscall.CmsgSpace(size-syscall.CmsgLen(0)), len(oob)):]
	}
	return int(r), arrival, nil
}

// end closes a stream's socket and hands its subscriber back.
func (l *pollLoop) end(st *pollStream, err error, registered bool) {
	if registered {
		l.ep.Ctl(syscall.EPOLL_CTL_DEL, st.fd, nil)
		l.streams[st.fd] = nil
	}
	syscall.Close(st.fd)
	st.s.rec = nil
	st.done <- err
}

// shutdown ends every stream, flushes the recorder and closes the loop.
func (l *pollLoop) shutdown(err error) {
	l.mu.Lock()
	l.stopped = true
	adds := l.adds
	l.adds = nil
	l.mu.Unlock()
	for _, st := range adds {
		l.end(st, err, false)
	}
	for _, st := range l.streams {
		if st != nil {
			l.end(st, err, true)
		}
	}
	l.rec.flush(math.MaxInt64)
	l.closeFDs()
}
