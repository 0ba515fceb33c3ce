//go:build !unix

package loadgen

import "errors"

// selfCPU is not measured on this system: the report shows 0 client CPU.
func selfCPU() float64 { return 0 }

// RaiseOpenFileLimit has no descriptor limit to raise on this system.
func RaiseOpenFileLimit() (uint64, error) {
	return 0, errors.New("loadgen: no open file limit to raise on this system")
}
