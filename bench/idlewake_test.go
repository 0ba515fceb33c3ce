package bench

import (
	"runtime"
	"testing"
)

func TestIdleWake(t *testing.T) {
	twoProcs(t)
	p50, p90 := IdleWake(8)
	if p50 <= 0 || p90 < p50 || p90 > idleWakeLimit {
		t.Errorf("IdleWake(8) = %v, %v; want 0 < p50 <= p90 <= %v", p50, p90, idleWakeLimit)
	}
	if p50, p90 := IdleWake(1); p50 != 0 || p90 != 0 {
		t.Errorf("IdleWake(1) = %v, %v; want zeros: one trial has no percentiles", p50, p90)
	}
	runtime.GOMAXPROCS(1)
	if p50, p90 := IdleWake(8); p50 != 0 || p90 != 0 {
		t.Errorf("with GOMAXPROCS 1: IdleWake = %v, %v; want zeros (no other processor)", p50, p90)
	}
}
