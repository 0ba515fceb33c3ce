package transport

import (
	"context"
	"errors"
)

// An engine assigns sequences to published events and hands each client the
// events of its topics. Both engines speak the same protocol; they differ in
// how the bytes travel from the publisher to a client's goroutine.
type engine interface {
	// publish stamps ids on frames (encoded by encodeFrames, in order) and
	// makes them visible to subscribers at once. It returns the first
	// sequence; the others follow by one.
	publish(frames []*frame) (uint64, error)
	// subscribe positions a new subscription for sel, resuming after res
	// when it can, and returns the reset notice to send first, if any.
	subscribe(sel selection, res resumePoint) (subscription, []byte, error)
	maxLag() uint64
	topicCount() int
	close()
}

// A subscription belongs to one client goroutine (close may be called from
// any goroutine).
type subscription interface {
	// wait blocks until fill has something to give, holding no buffer while
	// it waits (an idle client costs its goroutine and little else). It
	// returns ctx.Err() when ctx is done first, errSlowClient when the client
	// must go, errEngineClosed once the engine is closed and drained.
	wait(ctx context.Context) error
	// fill appends to b, without waiting, what is ready: frames, and the
	// lagged/reset notices that go between them. It returns errSlowClient
	// when the client must be disconnected (write b first: it is what the
	// client is owed up to there) and errEngineClosed as wait does.
	fill(b *batch) error
	close()
}

var (
	errSlowClient   = errors.New("slow client")
	errEngineClosed = errors.New("engine closed")
)
