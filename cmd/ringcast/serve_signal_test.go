package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveChildEnv holds, separated by U+001F, the arguments of a `ringcast serve`
// that TestServeChild runs in a child process.
const serveChildEnv = "RINGCAST_TEST_SERVE_ARGS"

// TestServeChild is `ringcast` in a child process, for tests that signal it.
func TestServeChild(t *testing.T) {
	args := os.Getenv(serveChildEnv)
	if args == "" {
		t.Skip("run by the signal tests in a child process")
	}
	os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

// serveChild is `ringcast serve` running in a child process.
type serveChild struct {
	cmd    *exec.Cmd
	addr   string        // its public address, from its first log line
	exited chan struct{} // closed once it has exited and its log is read
	err    error         // how it exited, once exited is closed
	log    bytes.Buffer  // its standard error, whole once exited is closed
}

// startServeChild runs `ringcast serve args...` in a child process.
func startServeChild(t *testing.T, args ...string) *serveChild {
	t.Helper()
	sc := &serveChild{exited: make(chan struct{})}
	sc.cmd = exec.Command(os.Args[0], "-test.run=^TestServeChild$", "-test.count=1")
	sc.cmd.Env = append(os.Environ(), serveChildEnv+"="+strings.Join(append([]string{"serve"}, args...), "\x1f"))
	stderr, err := sc.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrRe := regexp.MustCompile(`msg="ringcast serve" addr=(\S+)`)
	lines := bufio.NewScanner(stderr)
	for sc.addr == "" && lines.Scan() {
		sc.log.WriteString(lines.Text() + "\n")
		if m := addrRe.FindStringSubmatch(lines.Text()); m != nil {
			sc.addr = m[1]
		}
	}
	go func() {
		_, _ = io.Copy(&sc.log, stderr)
		sc.err = sc.cmd.Wait()
		close(sc.exited)
	}()
	t.Cleanup(func() {
		_ = sc.cmd.Process.Kill()
		<-sc.exited
	})
	if sc.addr == "" {
		<-sc.exited
		t.Fatalf("serve did not start:\n%s", &sc.log)
	}
	return sc
}

// SIGTERM with a client stuck in a write: serve closes its connection at
// --shutdown-timeout, warns, and exits 0 (issue 17, item 6).
func TestSIGTERMWithStuckClientExitsZero(t *testing.T) {
	sc := startServeChild(t, "--addr", "127.0.0.1:0", "--admin-addr=", "--shutdown-timeout", "1s",
		"--write-timeout", "1m", "--capacity", "64", "--max-event-bytes", "1048576")
	addr := sc.addr
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := io.WriteString(c, "GET /events HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("the stream: %q %v", line, err)
	}
	// Then it reads no more: 8 MiB of events, twice the most a socket buffers
	// here, leave its stream stuck in a write.
	body := `{"topic":"a","data":"` + strings.Repeat("y", 256<<10) + `"}`
	for range 32 {
		resp, err := http.Post("http://"+addr+"/publish", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("publish: %d", resp.StatusCode)
		}
	}
	if err := sc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sc.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not exit within 10s of SIGTERM (--shutdown-timeout 1s)")
	}
	var ee *exec.ExitError
	if errors.As(sc.err, &ee) {
		t.Fatalf("serve exited %d after SIGTERM with a stuck client; want 0 with a warning\n%s", ee.ExitCode(), &sc.log)
	} else if sc.err != nil {
		t.Fatal(sc.err)
	}
	if log := sc.log.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "shutdown deadline") {
		t.Errorf("no warning about the deadline:\n%s", log)
	}
}
