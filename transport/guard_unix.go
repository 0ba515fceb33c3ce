//go:build unix

package transport

import "syscall"

// defaultMaxConns is 90% of the file-descriptor limit: past it the server
// still has descriptors to accept a connection and answer 429, rather than
// failing Accept with EMFILE and leaving clients unanswered (the rest of
// the headroom holds those waiting for their 429: rejectingRoom). -1, no
// limit, when the limit is unknown.
func defaultMaxConns() int {
	n := fdLimit()
	if n <= 0 {
		return -1
	}
	return max(n/10*9, 64)
}

// fdLimit is the process's file-descriptor limit (Go raises the soft limit
// to the hard one at startup), or 0 when it is unknown or unlimited.
func fdLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 0
	}
	cur := uint64(rl.Cur)                 // int64 on the BSDs
	if cur == ^uint64(0) || cur > 1<<30 { // RLIM_INFINITY
		return 0
	}
	return int(cur)
}
