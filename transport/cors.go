package transport

// CORS: which browser origins may read the stream and publish
// (Config.CORSOrigins).

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// setCORS adds the CORS headers when the request's origin is allowed.
func (s *Server) setCORS(ctx *fasthttp.RequestCtx) {
	if o := s.allowedOrigin(ctx.Request.Header.Peek("Origin")); o != "" {
		ctx.Response.Header.Set("Access-Control-Allow-Origin", o)
		if o != "*" {
			ctx.Response.Header.Set("Vary", "Origin")
		}
	}
}

// allowedOrigin returns the Access-Control-Allow-Origin value for origin,
// or "" when none applies.
func (s *Server) allowedOrigin(origin []byte) string {
	if len(origin) == 0 {
		return ""
	}
	if s.corsAny {
		return "*"
	}
	for _, o := range s.corsOrigins {
		if o == string(origin) {
			return o
		}
	}
	return ""
}

// parseCORSOrigins reads Config.CORSOrigins: "*" allows any origin, blank
// entries are ignored.
func parseCORSOrigins(origins []string) (any bool, allowed []string) {
	for _, o := range origins {
		if o = strings.TrimSpace(o); o == "*" {
			any = true
		} else if o != "" {
			allowed = append(allowed, o)
		}
	}
	return any, allowed
}
