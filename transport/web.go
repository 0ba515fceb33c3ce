package transport

// The web page at /: a person's view of the stream. Plain HTML, CSS and a
// little JavaScript, embedded in the binary (no CDN, works offline), under a
// Content-Security-Policy that allows nothing but this server: no inline
// script, no other origin, no framing. The page renders what it receives
// with textContent only, so event data can never become markup.
//
// GET / answers the page to a browser (Accept: text/html) and the plain-text
// summary to everything else (curl). The page asks /ui/info how this client
// may publish, and subscribes with EventSource, so it reconnects and resumes
// with Last-Event-ID exactly as any browser client does.
//
// The page's DOM is also its test interface (browser_test.go): #state
// carries data-state, #last-id the last id, and each row of #events is an
// li.event (data-id, data-topic, data-type) or an li.notice (data-kind,
// lagged, reset or expired, and the notice's fields as data-*); #hidden-count
// and #hidden-note say how many named events EventSource did not hand to the
// page (it delivers only the names a page listens for) and why.

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"strconv"

	"github.com/valyala/fasthttp"
)

//go:embed web
var webFiles embed.FS

type webAsset struct {
	body  []byte
	ctype string
	etag  string
}

var webAssets = loadWebAssets()

func loadWebAssets() map[string]webAsset {
	m := map[string]webAsset{}
	for name, ctype := range map[string]string{
		"index.html": "text/html; charset=utf-8",
		"app.js":     "text/javascript; charset=utf-8",
		"app.css":    "text/css; charset=utf-8",
	} {
		b, err := webFiles.ReadFile("web/" + name)
		if err != nil {
			panic("transport: embedded web page: " + err.Error())
		}
		sum := sha256.Sum256(b)
		m[name] = webAsset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return m
}

// webCSP allows the page its own script, style and connections, nothing else.
const webCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// installWeb routes the page. New calls it; Handle can replace any of it.
func (s *Server) installWeb() {
	plain := s.routes["/"]
	s.routes["/"] = func(ctx *fasthttp.RequestCtx) {
		if (ctx.IsGet() || ctx.IsHead()) && bytes.Contains(ctx.Request.Header.Peek("Accept"), []byte("text/html")) {
			serveAsset(ctx, "index.html")
			return
		}
		plain(ctx)
	}
	s.routes["/ui/app.js"] = func(ctx *fasthttp.RequestCtx) { serveAsset(ctx, "app.js") }
	s.routes["/ui/app.css"] = func(ctx *fasthttp.RequestCtx) { serveAsset(ctx, "app.css") }
	s.routes["/ui/info"] = s.handleUIInfo
}

func serveAsset(ctx *fasthttp.RequestCtx, name string) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "use GET")
		return
	}
	a := webAssets[name]
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-cache") // revalidate: a new binary serves a new page
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if name == "index.html" {
		h.Set("Content-Security-Policy", webCSP)
		h.Set("X-Frame-Options", "DENY")
	}
	if string(ctx.Request.Header.Peek("If-None-Match")) == a.etag {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType(a.ctype)
	ctx.SetBody(a.body)
}

// handleUIInfo tells the page what it needs to know about this server and
// this client: how it may publish, whether subscribing needs a token.
func (s *Server) handleUIInfo(ctx *fasthttp.RequestCtx) {
	mode, why := publishMode(ctx, &s.cfg)
	b := []byte(`{"epoch":`)
	b = appendJSONString(b, s.Epoch(), 64)
	b = append(b, `,"engine":`...)
	b = appendJSONString(b, string(s.cfg.Engine), 64)
	b = append(b, `,"publish":`...)
	b = appendJSONString(b, mode, 64)
	b = append(b, `,"publishWhy":`...)
	b = appendJSONString(b, why, 1024)
	b = append(b, `,"subscribeToken":`...)
	b = strconv.AppendBool(b, s.cfg.SubscribeToken != "")
	b = append(b, `,"signedTokens":`...)
	b = strconv.AppendBool(b, s.guard.jwt != nil)
	b = append(b, `,"maxEventBytes":`...)
	b = strconv.AppendInt(b, int64(s.cfg.MaxEventBytes), 10)
	b = append(b, `,"maxTopics":`...)
	b = strconv.AppendInt(b, int64(s.cfg.MaxTopics), 10)
	b = append(b, "}\n"...)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
