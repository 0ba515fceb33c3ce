package transport

// GET /events: parse the request in fasthttp's handler, then hijack the
// connection and stream from a goroutine of our own.
//
// Why hijack rather than SetBodyStreamWriter: a body stream writer runs on
// fasthttp's worker goroutine, with the request context and a 4 KiB
// bufio.Writer held for the life of the stream, and fasthttp's Shutdown waits
// for it forever. After Hijack (with KeepHijackedConns and no response from
// fasthttp) the worker, the context and the buffers go back to their pools;
// an idle stream is one parked goroutine, its subscription and the socket,
// and this package ends its streams itself on Shutdown. We write the HTTP
// response head and the chunked framing ourselves (stream.go).

import (
	"net"
	"slices"
	"strconv"

	"github.com/valyala/fasthttp"
)

// streamRequest is what the stream goroutine needs from the request.
type streamRequest struct {
	sel     selection
	res     resumePoint
	http10  bool   // no chunked encoding: the body ends when the connection closes
	head    bool   // HEAD: the response head only
	origin  string // Access-Control-Allow-Origin, "" for none
	expires int64  // when the credential expires, on the stream clock (Server.expiresIn); 0: never
}

func (s *Server) handleEvents(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "subscribe with GET")
		return
	}
	if s.closing.Load() {
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, fasthttp.StatusServiceUnavailable, ErrClosed.Error())
		return
	}
	var topics []string
	for _, t := range ctx.QueryArgs().PeekMulti("topic") {
		topic := string(t)
		if ve := checkTopic(topic); ve != nil {
			writeError(ctx, fasthttp.StatusBadRequest, "topic "+strconv.Quote(topic)+": "+ve.Reason)
			return
		}
		topics = append(topics, topic)
	}
	slices.Sort(topics)
	topics = slices.Compact(topics)
	if len(topics) > s.cfg.MaxTopics {
		writeError(ctx, fasthttp.StatusBadRequest, strconv.Itoa(len(topics))+" topics in one subscription; the limit is "+strconv.Itoa(s.cfg.MaxTopics)+" (--max-topics)")
		return
	}
	// EventSource sends Last-Event-ID on reconnection; a first connection
	// can only pass its starting point in the URL.
	last := string(ctx.Request.Header.Peek("Last-Event-ID"))
	if last == "" {
		last = string(ctx.QueryArgs().Peek("lastEventId"))
	}
	gr := grantOf(ctx)
	sel, forbidden := gr.selectionFor(topics)
	switch {
	case forbidden != "":
		s.guard.refuseTopic(ctx, opSubscribe, "topic "+strconv.Quote(forbidden)+" is outside the token's subscribe claim")
		return
	case len(topics) == 0 && gr != nil && gr.subscribe.empty():
		s.guard.refuseTopic(ctx, opSubscribe, "the token's subscribe claim names no topic")
		return
	}
	req := streamRequest{
		sel:     sel,
		expires: s.expiresIn(gr),
		res:     parseResume(last),
		http10:  !ctx.Request.Header.IsHTTP11(),
		head:    ctx.IsHead(),
		origin:  s.allowedOrigin(ctx.Request.Header.Peek("Origin")),
	}
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		// startStream returns once the stream is running on a goroutine of
		// its own, so that fasthttp releases the request context; the
		// connection is ours (KeepHijackedConns).
		s.startStream(c, &req)
	})
}
