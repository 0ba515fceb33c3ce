//go:build !linux

package bench

import (
	"errors"
	"time"
)

// processAndThreadCPU needs a per-thread CPU clock, which this suite reads
// only on Linux.
func processAndThreadCPU() (process, thread time.Duration, err error) {
	return 0, 0, errors.New("bench: the cost view measures CPU on Linux only")
}
