//go:build linux

package epoll

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func pipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(p[0]); syscall.Close(p[1]) })
	return p[0], p[1]
}

// Wait parks until a registered descriptor is ready, and reports it with
// the data given at registration.
func TestWaitReportsReadiness(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r, w := pipe(t)
	if err := e.Ctl(syscall.EPOLL_CTL_ADD, r, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: 7, Pad: 9}); err != nil {
		t.Fatal(err)
	}
	got := make(chan syscall.EpollEvent, 1)
	go func() {
		evs := make([]syscall.EpollEvent, 4)
		n, err := e.Wait(evs)
		if err != nil || n != 1 {
			t.Errorf("Wait: %d, %v", n, err)
		}
		got <- evs[0]
	}()
	select {
	case ev := <-got:
		t.Fatalf("Wait returned %+v before anything was ready", ev)
	case <-time.After(20 * time.Millisecond): // a lower bound only: it must still be parked
	}
	syscall.Write(w, []byte{1})
	select {
	case ev := <-got:
		if ev.Fd != 7 || ev.Pad != 9 || ev.Events&syscall.EPOLLIN == 0 {
			t.Fatalf("event %+v; want data 7/9, EPOLLIN", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not wake when the pipe became readable")
	}
}

// Close wakes a Wait in progress with an error; Ctl fails afterwards.
func TestCloseWakesWait(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Wait(make([]syscall.EpollEvent, 1))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it park (it returns an error either way)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Wait after Close: %v; want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Wait")
	}
	r, _ := pipe(t)
	if err := e.Ctl(syscall.EPOLL_CTL_ADD, r, &syscall.EpollEvent{Events: syscall.EPOLLIN}); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Ctl after Close: %v; want os.ErrClosed", err)
	}
}
