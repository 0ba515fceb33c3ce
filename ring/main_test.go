package ring_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test in the package must leave no goroutine behind: a reader that is
// closed, or whose ring is closed, holds nothing.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
