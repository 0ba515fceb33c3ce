//go:build linux

package epoll

import (
	"os"
	"syscall"
)

// Instance is one epoll instance. Wait is for one goroutine at a time; Ctl
// and Close may run beside it.
type Instance struct {
	f   *os.File        // the epoll descriptor, watched by Go's netpoller
	raw syscall.RawConn // waits on f without holding a thread
}

// New creates an instance; Close releases it.
func New() (*Instance, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	e := &Instance{f: os.NewFile(uintptr(fd), "epoll")}
	if e.raw, err = e.f.SyscallConn(); err != nil {
		e.f.Close()
		return nil, err
	}
	return e, nil
}

// Wait fills events with what is ready and returns how many, parking in
// the netpoller while nothing is. It fails with os.ErrClosed once the
// instance is closed (Close wakes a Wait in progress).
func (e *Instance) Wait(events []syscall.EpollEvent) (int, error) {
	for {
		var n int
		var werr error
		err := e.raw.Read(func(fd uintptr) bool {
			n, werr = syscall.EpollWait(int(fd), events, 0)
			return n > 0 || werr != nil
		})
		switch {
		case err != nil: // the file is closing: nothing else fails a RawConn without deadlines
			return 0, os.ErrClosed
		case werr == syscall.EINTR:
			continue
		case werr != nil:
			return 0, os.NewSyscallError("epoll_wait", werr)
		}
		return n, nil
	}
}

// Ctl is epoll_ctl(2) on the instance. Its descriptor cannot be closed (and
// its number reused) meanwhile; after Close, Ctl fails with os.ErrClosed
// and changes nothing.
func (e *Instance) Ctl(op, fd int, ev *syscall.EpollEvent) error {
	var cerr error
	if err := e.raw.Control(func(epfd uintptr) {
		cerr = syscall.EpollCtl(int(epfd), op, fd, ev)
	}); err != nil {
		return os.ErrClosed
	}
	if cerr != nil {
		return os.NewSyscallError("epoll_ctl", cerr)
	}
	return nil
}

// Close closes the instance: a Wait in progress returns an error.
func (e *Instance) Close() error { return e.f.Close() }
