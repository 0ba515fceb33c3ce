//go:build !unix

package loadgen

import "errors"

// RaiseOpenFileLimit has no descriptor limit to raise on this system.
func RaiseOpenFileLimit() (uint64, error) {
	return 0, errors.New("loadgen: no open file limit to raise on this system")
}
