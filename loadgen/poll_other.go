//go:build !linux

package loadgen

// Elsewhere than Linux every subscriber reads in its own goroutine.

import (
	"context"
	"errors"
	"net"

	"github.com/HdrHistogram/hdrhistogram-go"
)

const pollSupported = false

type pollLoop struct{}

type pollGroup struct{ loops []*pollLoop }

func startPollGroup(context.Context, int, *collector) (*pollGroup, error) {
	return nil, errors.New("the epoll reader needs Linux")
}

func (g *pollGroup) wait() {}

func (g *pollGroup) readDelay() *hdrhistogram.Histogram { return nil }

func (l *pollLoop) serve(*subscriber, net.Conn, streamHead, int64) (error, bool) { return nil, false }
