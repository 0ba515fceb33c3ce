//go:build unix

package transport

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed reports whether the client has closed its side of c, without
// blocking: a non-blocking read returns 0 (EOF) once its FIN has arrived,
// EAGAIN while the connection is open and quiet. Anything the client sent
// after its request is read and dropped (a stream never serves another
// request). A connection that is not a socket is assumed open.
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	var buf [256]byte
	err = rc.Read(func(fd uintptr) bool {
		for range 16 { // bounded: a client streaming junk is not our problem here
			n, err := syscall.Read(int(fd), buf[:])
			switch {
			case n > 0:
				continue
			case err == nil: // n == 0: EOF
				closed = true
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
			default:
				closed = true // ECONNRESET and the like
			}
			return true
		}
		return true
	})
	return closed || err != nil
}
