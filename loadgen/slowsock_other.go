//go:build !unix

package loadgen

import "syscall"

const slowSocketSupported = false

// slowSocketControl is never used here: Config.SlowRecvBuffer is refused.
func slowSocketControl(int) func(network, address string, c syscall.RawConn) error {
	return nil
}
