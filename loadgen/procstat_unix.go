//go:build unix

package loadgen

import "syscall"

// RaiseOpenFileLimit lifts this process's soft RLIMIT_NOFILE to its hard
// limit (thousands of connections need as many descriptors; child processes
// inherit the raised limit) and returns the new soft limit.
func RaiseOpenFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return uint64(lim.Cur), nil
}
