//go:build !unix

package transport

// defaultMaxConns: no file-descriptor limit to derive it from; no limit.
func defaultMaxConns() int { return -1 }

// fdLimit: unknown.
func fdLimit() int { return 0 }
