package transport

// The fasthttp servers, configured here and nowhere else: the public one
// (limits from Config, errors answered in JSON and counted) and the admin
// one (pprof, metrics).

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// newPublicServer is the public listener's fasthttp server: step 2 of the
// guard (guard.go), the request limits, and the JSON answer to what it
// cannot read.
func (s *Server) newPublicServer() *fasthttp.Server {
	return &fasthttp.Server{
		Name:              "ringcast",
		ReduceMemoryUsage: true, // frees a connection's read buffer before its stream starts
		KeepHijackedConns: true, // streams own their connections (see events.go)
		CloseOnShutdown:   true,
		// A body is read by the handler that wants it, never pre-sized
		// from Content-Length, and one nobody takes is refused unread
		// (body.go). Multipart bodies are not parsed ahead either: /publish
		// answers them 415, after the token check.
		StreamRequestBody:            true,
		HeaderReceived:               s.headerReceived,
		DisablePreParseMultipartForm: true,
		ReadTimeout:                  s.cfg.ReadTimeout,
		WriteTimeout:                 s.cfg.WriteTimeout,
		IdleTimeout:                  s.cfg.IdleTimeout,
		ReadBufferSize:               s.cfg.MaxHeaderBytes, // fasthttp needs the whole head in its read buffer
		MaxRequestBodySize:           s.cfg.MaxBodyBytes,
		ErrorHandler:                 s.handleRequestError,
		ExpectHandler:                s.handleExpect,
		Logger:                       fastLogger{s.log},
	}
}

// newAdminServer is the admin listener's fasthttp server.
func (s *Server) newAdminServer() *fasthttp.Server {
	return &fasthttp.Server{
		Name:         "ringcast-admin",
		Handler:      s.AdminHandler(),
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 5 * time.Minute, // CPU profiles and traces take a while
		IdleTimeout:  s.cfg.IdleTimeout,
		Logger:       fastLogger{s.log},
	}
}

// handleRequestError answers requests fasthttp could not read, in JSON, and
// counts them.
func (s *Server) handleRequestError(ctx *fasthttp.RequestCtx, err error) {
	publish := string(ctx.Path()) == "/publish"
	var small *fasthttp.ErrSmallBuffer
	var timeout interface{ Timeout() bool }
	switch {
	case errors.As(err, &small):
		s.guard.reqRejected[rejHeaderTooLarge].Inc()
		writeError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf(
			"the request head (request line and headers) exceeds %d bytes (--max-header-bytes); a subscription to many topics exceeds it too: subscribe to fewer", s.cfg.MaxHeaderBytes))
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.refuseBody(ctx)
	case errors.As(err, &timeout) && timeout.Timeout():
		s.guard.reqRejected[rejReadTimeout].Inc()
		if publish {
			s.m.rejected[rejBadRequest].Inc()
		}
		writeError(ctx, fasthttp.StatusRequestTimeout, "the request was not received in time")
	default:
		s.guard.reqRejected[rejMalformed].Inc()
		if publish {
			s.m.rejected[rejBadRequest].Inc()
		}
		writeError(ctx, fasthttp.StatusBadRequest, "cannot read the request: "+err.Error())
	}
}

// handleExpect answers "Expect: 100-continue" with a body that would be
// refused (body.go) or is announced beyond the limit: refuse before the
// client sends it, not after fasthttp has invited it.
func (s *Server) handleExpect(ctx *fasthttp.RequestCtx) int {
	if s.refusedBody(ctx) {
		return ctx.Response.StatusCode()
	}
	if ctx.Request.Header.ContentLength() > s.cfg.MaxBodyBytes {
		s.refuseBody(ctx)
		return fasthttp.StatusRequestEntityTooLarge
	}
	return fasthttp.StatusContinue
}

// refuseBody answers 413 to a body over MaxBodyBytes.
func (s *Server) refuseBody(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == "/publish" {
		s.m.rejected[rejTooLarge].Inc()
	}
	writeError(ctx, fasthttp.StatusRequestEntityTooLarge, "the body exceeds "+strconv.Itoa(s.cfg.MaxBodyBytes)+" bytes (--max-body-bytes); split the batch")
}

// fastLogger sends fasthttp's log lines to slog, at debug level: they report
// per-connection trouble (timeouts, resets) that the metrics already count.
type fastLogger struct{ l *slog.Logger }

func (f fastLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
}
