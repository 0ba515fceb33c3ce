package transport

import "errors"

// ErrClosed is returned by Publish once Shutdown has begun.
var ErrClosed = errors.New("transport: server is shutting down")
