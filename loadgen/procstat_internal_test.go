package loadgen

import (
	"context"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"
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

// pidSource sums its processes: two readings of one idle process are twice
// one reading (an idle child, so that its figures hold still between reads).
func TestPIDSourceSums(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/<pid> is Linux's")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	// Until sleep has started up, its RSS still grows.
	for deadline, last := time.Now().Add(10*time.Second), int64(-1); ; {
		p, err := readProc(pid)
		if err != nil {
			t.Fatal(err)
		}
		if p.RSS > 0 && p.RSS == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child's RSS did not settle: %d", p.RSS)
		}
		last = p.RSS
		time.Sleep(10 * time.Millisecond) // polling a process we do not control
	}
	one, err := pidSource{[]int{pid}}.sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	two, err := pidSource{[]int{pid, pid}}.sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if one.RSS <= 0 || one.FDs < 0 || two.RSS != 2*one.RSS || two.FDs != 2*one.FDs || two.CPUSec != 2*one.CPUSec {
		t.Fatalf("one process %+v, read twice %+v; want twice each figure", one, two)
	}
	if _, err := (pidSource{[]int{pid, -1}}).sample(context.Background()); err == nil {
		t.Fatal("a process that is not there: no error")
	}
	if got, want := (pidSource{[]int{pid, 7}}).describe(), "/proc/"+strconv.Itoa(pid)+" + /proc/7"; got != want {
		t.Fatalf("describe = %q, want %q", got, want)
	}
}
