package loadgen

import (
	"net"
	"os"
	"runtime"
	"testing"
)

// countFDs sees a descriptor opened and closed.
func TestCountFDs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/<pid>/fd is Linux's")
	}
	before := countFDs(os.Getpid())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	during := countFDs(os.Getpid())
	ln.Close()
	after := countFDs(os.Getpid())
	if before < 3 || during != before+1 || after != before {
		t.Fatalf("descriptors %d, %d with a listener, %d after; want n, n+1, n", before, during, after)
	}
	if s, err := readProc(os.Getpid()); err != nil || s.FDs != after {
		t.Fatalf("readProc: %+v, %v; want FDs %d", s, err, after)
	}
	if got := countFDs(-1); got != -1 {
		t.Fatalf("no such process: %d; want -1", got)
	}
}

func TestHeldOverLive(t *testing.T) {
	const base = 10
	samples := []SeriesPoint{
		{Phase: "warmup", Sockets: 100, ServerFDs: base + 500}, // not measured
		{Phase: "measure", Sockets: 100, ServerFDs: base + 103},
		{Phase: "measure", Sockets: 100, ServerFDs: -1}, // unknown
		{Phase: "measure", Sockets: 200, ServerFDs: base + 230},
		{Phase: "measure", Sockets: 0, ServerFDs: base + 5}, // nobody connected
		{Phase: "measure", Sockets: 100, ServerFDs: base + 101},
		{Phase: "drain", Sockets: 100, ServerFDs: base + 300},
		{Phase: "hold", Sockets: 100, ServerFDs: base + 102}, // idle's measured phase
	}
	worst, end := heldOverLive(samples, base)
	if worst != 0.15 || end != 0.02 {
		t.Fatalf("worst %v end %v; want 0.15, 0.02", worst, end)
	}
	if w, e := heldOverLive(samples, -1); w != 0 || e != 0 {
		t.Fatalf("unknown baseline: %v %v", w, e)
	}
}
