package ring_test

import "runtime"

// runtimeYield lets other goroutines run while a test polls a condition that
// another goroutine is making true; it is never a stand-in for a wait on time.
func runtimeYield() { runtime.Gosched() }
