package transport

// Authorization: which credential a request carries, and what it allows.
// The guard middleware (guard.go) authenticates every GET /events once,
// before its handler, and leaves the credential's grant on the request;
// handleEvents builds the stream's selection from it (topicgrant.go), and
// handlePublish checks each event's topic against it. Nothing here runs per
// event delivered (A1).
//
// Credentials, in the order they are looked for:
//   - the static tokens (Config.SubscribeToken, PublishToken): every topic;
//   - a signed token (jwt.go): the topics of its "ringcast" claim.
// A subscriber's token travels as "Authorization: Bearer", the cookie
// ringcast_token, or the query parameter token (weaker: URLs are logged); a
// publisher's only as "Authorization: Bearer" (a cookie would let any site
// publish through a visitor's browser: CSRF).

import (
	"bytes"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

const mTokenRejected = "ringcast_token_rejected_total"

// The operations a token is checked for: the op label of
// ringcast_token_rejected_total.
const (
	opSubscribe = "subscribe"
	opPublish   = "publish"
)

// grantKey is the request user value that holds a subscriber's *grant.
type grantKey struct{}

// installAuthz sets up signed-token verification (nil: off) and its metrics.
func (g *guard) installAuthz(v *jwtVerifier) {
	g.jwt = v
	g.tokRejected = map[string]*metrics.Counter{}
	if v == nil {
		return
	}
	for _, op := range []string{opSubscribe, opPublish} {
		for _, r := range tokReasons {
			g.tokRejected[op+"/"+r] = g.s.m.set.NewCounter(mTokenRejected + `{op="` + op + `",reason="` + r + `"}`)
		}
	}
}

// authRequired reports whether op needs a credential.
func (g *guard) authRequired(op string) bool {
	if g.jwt != nil {
		return true
	}
	if op == opSubscribe {
		return g.s.cfg.SubscribeToken != ""
	}
	return g.s.cfg.PublishToken != ""
}

// rejectToken counts a refused signed token.
func (g *guard) rejectToken(op string, te *tokenError) {
	if c := g.tokRejected[op+"/"+te.reason]; c != nil {
		c.Inc()
	}
}

// subscriber authenticates a subscription: it returns the credential's
// grant (nil: every topic), or why it is refused. Any credential that is
// the static token admits (G3); otherwise the first present of header,
// cookie and query is taken for a signed token.
func (g *guard) subscriber(ctx *fasthttp.RequestCtx) (*grant, *tokenError) {
	var header, cookie, query string
	if h := ctx.Request.Header.Peek("Authorization"); len(h) > 0 {
		header, _ = bearerToken(h)
	}
	if c := ctx.Request.Header.Cookie(subscribeCookie); len(c) > 0 {
		// A page sets the cookie with encodeURIComponent; tokens never need
		// escaping (checkToken; a JWT is base64url and dots), so both forms
		// compare equal.
		cookie, _ = url.QueryUnescape(string(c))
	}
	if q := ctx.QueryArgs().Peek("token"); len(q) > 0 {
		query = string(q)
	}
	if want := g.s.cfg.SubscribeToken; want != "" {
		ok := false // every credential compared, whatever matched (G3)
		for _, got := range []string{header, cookie, query} {
			if got != "" && tokenMatches([]byte(got), want) {
				ok = true
			}
		}
		if ok {
			return nil, nil
		}
	}
	raw := header
	if raw == "" {
		raw = cookie
	}
	if raw == "" {
		raw = query
	}
	return g.signed(opSubscribe, raw)
}

// publisher authenticates a publish: the static publish token (every
// topic), or a signed token's grant, from the Authorization header only.
// A server without any credential configured returns nil, nil (the guard
// has already kept such publishes to loopback).
func (g *guard) publisher(ctx *fasthttp.RequestCtx) (*grant, *tokenError) {
	if !g.authRequired(opPublish) {
		return nil, nil
	}
	h := ctx.Request.Header.Peek("Authorization")
	if want := g.s.cfg.PublishToken; want != "" && bearerMatches(h, want) {
		return nil, nil
	}
	raw, _ := bearerToken(h)
	return g.signed(opPublish, raw)
}

// signed verifies raw as a signed token for op.
func (g *guard) signed(op, raw string) (*grant, *tokenError) {
	var te *tokenError
	switch {
	case g.jwt == nil:
		te = &tokenError{tokMissing, ""} // a static token was needed and not given
	case raw == "":
		te = &tokenError{tokMissing, "no token: send Authorization: Bearer <token>"}
	default:
		gr, err := g.jwt.verify(raw)
		if err == nil {
			return gr, nil
		}
		te = err.(*tokenError)
	}
	g.rejectToken(op, te)
	return nil, te
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(h []byte) (string, bool) {
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(string(h[:len(prefix)]), prefix) {
		return "", false
	}
	return strings.TrimSpace(string(h[len(prefix):])), true
}

// refuseToken answers 401 for a refused credential: a static token's
// message when no signed tokens are configured, else the token's reason.
func (g *guard) refuseToken(ctx *fasthttp.RequestCtx, op string, te *tokenError) {
	realm := `Bearer realm="ringcast events"`
	static := "subscribing needs the subscribe token: the header Authorization: Bearer <token>, the cookie " + subscribeCookie + "=<token>, or (weaker) the query parameter token=<token>"
	if op == opPublish {
		realm = `Bearer realm="ringcast publish"`
		static = "publishing needs the header Authorization: Bearer <publish token>"
	}
	msg := static
	if g.jwt != nil {
		msg = op + ": " + te.msg
		if te.reason != tokMissing {
			realm += `, error="invalid_token"` // RFC 6750, 3.1
		}
	}
	ctx.Response.Header.Set("WWW-Authenticate", realm)
	writeError(ctx, fasthttp.StatusUnauthorized, msg)
}

// grantOf returns the grant the guard left on a subscription (nil: every
// topic).
func grantOf(ctx *fasthttp.RequestCtx) *grant {
	gr, _ := ctx.UserValue(grantKey{}).(*grant)
	return gr
}

// refuseTopic answers 403 for a subscription to a topic outside the grant.
func (g *guard) refuseTopic(ctx *fasthttp.RequestCtx, op, msg string) {
	g.rejectToken(op, &tokenError{reason: tokForbidden})
	writeError(ctx, fasthttp.StatusForbidden, msg)
}

// forbiddenEvent returns the 403 message for the first event of evs that gr
// may not publish, or "" when it may publish them all. A batch is all or
// nothing, as with any bad line.
func forbiddenEvent(gr *grant, evs []Event, body []byte, format int) string {
	if gr == nil || gr.publish.all {
		return ""
	}
	for i := range evs {
		if gr.publish.allows(evs[i].Topic) {
			continue
		}
		msg := "topic " + strconv.Quote(evs[i].Topic) + " is outside the token's publish claim; the batch was not published"
		if format == formatNDJSON {
			msg = "line " + strconv.Itoa(lineOfEvent(body, i)) + ": " + msg
		}
		return msg
	}
	return ""
}

// lineOfEvent returns the line number (from 1) of the i-th event of an
// NDJSON body, counting lines as parsePublish does (blank lines hold none).
func lineOfEvent(body []byte, i int) int {
	n := 0
	for line, rest := []byte(nil), body; len(rest) > 0; {
		n++
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if i == 0 {
			return n
		}
		i--
	}
	return n
}

// expiresIn converts a grant's expiry (Unix nanoseconds; 0: never) to the
// stream clock of s (nanoseconds since s.start; 0: never).
func (s *Server) expiresIn(gr *grant) int64 {
	if gr == nil || gr.expires == 0 {
		return 0
	}
	return max(int64(time.Unix(0, gr.expires).Sub(s.start)), 1)
}
