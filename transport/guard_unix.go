//go:build unix

package transport

import "syscall"

// defaultMaxConns is 90% of the file-descriptor limit: past it the server
// still has descriptors to accept a connection and answer 429, rather than
// failing Accept with EMFILE and leaving clients unanswered. (Go raises the
// soft limit to the hard one at startup.) -1, no limit, when it is unknown.
func defaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return -1
	}
	cur := uint64(rl.Cur) // int64 on the BSDs
	n := cur / 10 * 9
	if cur == ^uint64(0) || n > 1<<30 { // RLIM_INFINITY
		return -1
	}
	return int(max(n, 64))
}
