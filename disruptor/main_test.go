package disruptor

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// handler goroutine must have returned once Shutdown (or Done, after a halt)
// says so.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
