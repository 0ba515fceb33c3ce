package loadgen_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every run must leave no goroutine behind: subscribers, the progress loop,
// the publisher's HTTP connections.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
