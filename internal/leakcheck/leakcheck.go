// Package leakcheck holds the goroutine-leak options the tests share: the
// goroutines of fasthttp that outlive a server by design, which goleak
// must not report as leaks.
package leakcheck

import "go.uber.org/goleak"

// FastHTTP ignores fasthttp's Date-header refresher, which lives for the
// life of the process once a server has run, and its worker pool's cleaner,
// which sleeps out MaxIdleWorkerDuration (10 s by default) after Shutdown
// before it notices.
func FastHTTP() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	}
}
