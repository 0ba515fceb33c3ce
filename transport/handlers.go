package transport

// The plain handlers: metrics, health, the text index, and the JSON error
// answer that every handler uses.

import (
	"fmt"

	"github.com/valyala/fasthttp"
)

func (s *Server) handleMetrics(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	s.m.write(ctx)
}

func (s *Server) handleHealth(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	if s.closing.Load() {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		fmt.Fprintf(ctx, `{"status":"shutting down"}`+"\n")
		return
	}
	if s.cluster != nil { // cluster mode (cluster.go)
		s.cluster.writeHealth(ctx, s.nStreams.Load())
		return
	}
	fmt.Fprintf(ctx, `{"status":"ok","engine":%q,"epoch":%q,"streams":%d}`+"\n", s.cfg.Engine, s.cfg.Epoch, s.nStreams.Load())
}

func (s *Server) handleIndex(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != "/" {
		writeError(ctx, fasthttp.StatusNotFound, "no such endpoint")
		return
	}
	ctx.SetContentType("text/plain; charset=utf-8")
	fmt.Fprintf(ctx, `ringcast SSE server (engine %s, epoch %s)

  GET  /events?topic=a&topic=b   stream events (no topic: all); resume with Last-Event-ID
  POST /publish                  {"topic":"a","event":"name","data":...} as application/json,
                                 or one such object per line as application/x-ndjson
  GET  /metrics                  Prometheus metrics
  GET  /healthz                  health

Try:  curl -N http://%[3]s/events &
      curl -H 'Content-Type: application/json' -d '{"topic":"demo","data":"hello"}' http://%[3]s/publish
`, s.cfg.Engine, s.Epoch(), ctx.Host())
}

// writeError answers with status and {"error": msg}.
func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b := appendJSONString([]byte(`{"error":`), msg, 4096)
	ctx.SetBody(append(b, "}\n"...))
}
