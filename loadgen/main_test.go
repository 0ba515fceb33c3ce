package loadgen_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every run must leave no goroutine behind: subscribers, the progress loop,
// the publisher's HTTP connections. (fasthttp, in the in-process ringcast
// server, keeps a date-refreshing goroutine for the life of the process.)
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}
