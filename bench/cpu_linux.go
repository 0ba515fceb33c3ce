package bench

import (
	"syscall"
	"time"
)

// rusageThread is Linux's RUSAGE_THREAD, which package syscall does not name.
const rusageThread = 1

// processAndThreadCPU returns the CPU time (user + system) of the process and
// of the calling thread.
func processAndThreadCPU() (process, thread time.Duration, err error) {
	var p, t syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &p); err != nil {
		return 0, 0, err
	}
	if err := syscall.Getrusage(rusageThread, &t); err != nil {
		return 0, 0, err
	}
	cpu := func(ru *syscall.Rusage) time.Duration { return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()) }
	return cpu(&p), cpu(&t), nil
}
