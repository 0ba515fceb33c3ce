//go:build unix

package loadgen

import "syscall"

const slowSocketSupported = true

// slowMSS is the MSS a slow subscriber's socket advertises with
// Config.SlowRecvBuffer: Ethernet's.
const slowMSS = 1460

// slowSocketControl is a net.Dialer Control for the slow subscribers (see
// Config.SlowRecvBuffer). Both options must be set before connecting: the
// receive buffer fixes the window scale, and the MSS goes in the SYN.
func slowSocketControl(rcvBuf int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var err error
		cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			if err == nil {
				err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, slowMSS)
			}
		})
		if cerr != nil {
			return cerr
		}
		return err
	}
}
