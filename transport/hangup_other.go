//go:build !linux

package transport

// Elsewhere than Linux there is no hang-up watcher: a stream notices its
// client's departure at its next write or at the keep-alive peek
// (peer_unix.go).

import (
	"errors"
	"net"
)

type hangupTarget interface{ hangUp() }

type hangupToken uint64

type hangupWatcher struct{}

var errHangupUnwatchable = errors.New("transport: hang-up watching needs Linux (epoll)")

// newHangupWatcher returns nil: no watcher here.
func newHangupWatcher() (*hangupWatcher, error) { return nil, nil }

func (w *hangupWatcher) close() {}

func (w *hangupWatcher) watch(net.Conn, hangupTarget) (hangupToken, error) {
	return 0, errHangupUnwatchable
}

func (w *hangupWatcher) forget(net.Conn, hangupToken) {}

func (w *hangupWatcher) watched() int { return 0 }
