// Package cpuclock reads the CPU time this process has used, for the load
// generator's own cost and for the tests that check that idle waiters burn
// no CPU.
package cpuclock

import "time"

// Process returns the CPU time (user + system) this process has used, with
// the microsecond precision of getrusage; an error where it is not known.
func Process() (time.Duration, error) { return process() }

// Idle sleeps through window and returns the CPU time the process used
// meanwhile: what goroutines that should be parked burn.
func Idle(window time.Duration) (time.Duration, error) {
	before, err := Process()
	if err != nil {
		return 0, err
	}
	time.Sleep(window) // the measurement window itself, not synchronisation
	after, err := Process()
	return after - before, err
}
