//go:build unix

package cpuclock

import (
	"testing"
	"time"
)

// Spinning for a while shows up as CPU time; the clock never runs back.
func TestProcessCountsWork(t *testing.T) {
	before, err := Process()
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
	}
	after, err := Process()
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 5*time.Millisecond {
		t.Fatalf("20 ms of spinning used %v of CPU", after-before)
	}
}
