package transport

// Request bodies. fasthttp streams them (Server.StreamRequestBody): before
// the handler runs it reads at most a few KiB of a body, whatever the
// Content-Length says, and the rest stays on the wire until someone reads
// it. Without that, fasthttp allocates a buffer of the announced length
// before routing and before any token check, so a request head alone, with
// nothing after it, commits up to MaxBodyBytes of memory per connection.
//
// Invariants:
//   B1. Only a request that may send a body has any of it read: a POST to
//       /publish with the right token (or, with none configured, any: the
//       peer is checked after a prefetch of a few KiB at most), and the
//       routes added with Handle. Any other request that announces a body,
//       or announces more than MaxBodyBytes, has it refused unread:
//       headerReceived, which runs before fasthttp reads any of the body,
//       sets its Content-Length to 0 and marks it (bodyRefused, a header no
//       client can set: any it sends is removed first), and its connection
//       closes after the answer, the body still on the wire. The guard
//       answers a GET or HEAD with a body 413, a publish with a wrong token
//       401, a body beyond the limit 413; any other request goes on to its
//       handler without its body (which answers, say, 405).
//   B2. A body is read into a buffer that grows with the bytes that arrived,
//       never sized from Content-Length, and reading stops one byte past
//       MaxBodyBytes: memory follows what a client sent, not what it announced.

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"sync"

	"github.com/valyala/fasthttp"
)

// bodyRefused marks a request whose body headerReceived refused (B1); its
// value is the reason.
const bodyRefused = "X-Ringcast-Body-Refused"

// The values of bodyRefused.
const (
	refusedNoBody       = "no-body"      // the request takes none: 413
	refusedUnauthorized = "unauthorized" // a publish with the wrong token: 401
	refusedTooLarge     = "too-large"    // announced beyond MaxBodyBytes: 413
)

// headerReceived runs once a request head is read, before fasthttp reads
// any of the body (B1).
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	h.Del(bodyRefused)
	if cl := h.ContentLength(); cl > 0 || cl == -1 {
		if why := s.bodyRefusal(h, cl); why != "" {
			h.SetContentLength(0)
			h.Set(bodyRefused, why)
		}
	}
	return fasthttp.RequestConfig{}
}

// bodyRefusal says why the body of the request with head h, announcing cl
// bytes (-1: chunked), is refused unread, or "" when it may be read (B1).
func (s *Server) bodyRefusal(h *fasthttp.RequestHeader, cl int) string {
	u := fasthttp.AcquireURI()
	defer fasthttp.ReleaseURI(u)
	if u.Parse(nil, h.RequestURI()) != nil {
		return refusedNoBody
	}
	path := string(u.Path()) // normalised as ctx.Path() is, so the router agrees
	switch {
	case s.custom[path]:
	case path != "/publish" || !h.IsPost():
		return refusedNoBody
	case s.guard.authRequired(opPublish) && !s.guard.mayPublish(h.Peek("Authorization")):
		return refusedUnauthorized
	}
	if cl > s.cfg.MaxBodyBytes {
		return refusedTooLarge
	}
	return ""
}

// refusedBody answers a request whose body headerReceived refused, and
// reports whether it was one (B1).
func (s *Server) refusedBody(ctx *fasthttp.RequestCtx) bool {
	why := string(ctx.Request.Header.Peek(bodyRefused))
	if why == "" {
		return false
	}
	ctx.SetConnectionClose()
	switch {
	case why == refusedUnauthorized:
		_, te := s.guard.publisher(ctx) // counts the refused token once, here
		if te == nil {
			te = &tokenError{reason: tokMissing}
		}
		s.unauthorizedPublish(ctx, te)
	case why == refusedTooLarge:
		s.refuseBody(ctx)
	case ctx.IsGet() || ctx.IsHead():
		s.guard.reqRejected[rejBodyNotTaken].Inc()
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, "a "+string(ctx.Method())+" request takes no body")
	default:
		return false // its handler answers, without the body
	}
	return true
}

// bodyError is a body that could not be read: the status and the message.
type bodyError struct {
	status int
	msg    string
}

// readBody reads the request body from its stream into buf (B2). It
// answers nothing itself.
func (s *Server) readBody(ctx *fasthttp.RequestCtx, buf *bytes.Buffer) *bodyError {
	limit := s.cfg.MaxBodyBytes
	tooLarge := &bodyError{fasthttp.StatusRequestEntityTooLarge,
		"the body exceeds " + strconv.Itoa(limit) + " bytes (--max-body-bytes); split the batch"}
	if ctx.Request.Header.ContentLength() > limit {
		return tooLarge
	}
	r := ctx.RequestBodyStream()
	if r == nil {
		buf.Write(ctx.Request.Body()) // not streamed: fasthttp read it, within MaxRequestBodySize
		return nil
	}
	_, err := buf.ReadFrom(io.LimitReader(r, int64(limit)+1)) // grows as bytes arrive (B2)
	var timeout interface{ Timeout() bool }
	switch {
	case errors.As(err, &timeout) && timeout.Timeout():
		return &bodyError{fasthttp.StatusRequestTimeout, "the request body was not received in time (--read-timeout)"}
	case err != nil:
		return &bodyError{fasthttp.StatusBadRequest, "cannot read the request body: " + err.Error()}
	case buf.Len() > limit:
		return tooLarge
	}
	return nil
}

// bodyBuffers recycles the buffers publish bodies are read into: parsing
// copies what it keeps, so a buffer is free once the body is parsed.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer kept for reuse: a rare large batch
// should not pin its memory.
const maxPooledBody = 1 << 20

func putBodyBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		buf.Reset()
		bodyBuffers.Put(buf)
	}
}

// preloadBody reads the body of a request to a route added by Handle, so
// that its handler finds it in ctx.PostBody() as before, within
// MaxBodyBytes (B2). It reports whether the handler may run; if not, it has
// answered.
func (s *Server) preloadBody(ctx *fasthttp.RequestCtx) bool {
	if ctx.RequestBodyStream() == nil {
		return true
	}
	var buf bytes.Buffer // the handler's: not pooled
	if be := s.readBody(ctx, &buf); be != nil {
		ctx.SetConnectionClose()
		writeError(ctx, be.status, be.msg)
		return false
	}
	ctx.Request.SetBodyRaw(buf.Bytes())
	return true
}
