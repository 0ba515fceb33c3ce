package transport

// The admin listener's defences. It serves pprof, which reveals the process
// (its command line included), so it belongs on loopback; but loopback alone
// does not keep a web page out: a page whose DNS name is rebound to 127.0.0.1
// reads the listener through a browser on the server host, as same-origin.
// So, as for publishing without a token (openPublishRefusal):
//
//   D1. A request must name this machine in its Host: localhost, a loopback
//       address, or the listener's own address as an IP literal (a literal
//       cannot be rebound; an operator who put the listener on another
//       interface reaches it that way). Anything else is 403.
//   D2. A browser's request must come from a loopback origin (403).
//   D3. /debug/pprof/cmdline shows the command line with the values of
//       token flags replaced: a token given on the command line is visible
//       in /proc anyway (hence --publish-token-file), but not over HTTP.

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/valyala/fasthttp"
)

// adminRefusal says why a request to the admin listener is refused, or ""
// (D1, D2).
func adminRefusal(ctx *fasthttp.RequestCtx) string {
	if !hostNamesListener(string(ctx.Host()), ctx.LocalIP()) {
		return "the admin listener answers only requests that name this machine: Host localhost, a loopback address, or the listener's own IP address"
	}
	if o := ctx.Request.Header.Peek("Origin"); len(o) > 0 {
		u, err := url.Parse(string(o))
		if err != nil || !loopbackHost(u.Host) {
			return "the admin listener answers only pages served from this machine (a loopback Origin)"
		}
	}
	return ""
}

// hostNamesListener reports whether hostport names this machine (see
// loopbackHost) or is the IP address local, literally.
func hostNamesListener(hostport string, local net.IP) bool {
	if loopbackHost(hostport) {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return false
	}
	own, ok := netip.AddrFromSlice(local)
	return ok && ip.Unmap() == own.Unmap()
}

// writeCmdline answers /debug/pprof/cmdline as pprof does (the arguments,
// NUL-separated), with token values redacted (D3).
func writeCmdline(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(strings.Join(redactArgs(os.Args), "\x00"))
}

// redactArgs returns args with the value of every flag whose name mentions
// "token" (but not a token file's path) replaced by "REDACTED", in each form
// the flag package accepts: -name=v, --name=v, -name v, --name v.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 1; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.Contains(strings.ToLower(name), "token") || strings.HasSuffix(strings.ToLower(name), "-file") {
			continue
		}
		if hasValue {
			out[i] = a[:strings.IndexByte(a, '=')+1] + "REDACTED"
		} else if i+1 < len(out) {
			i++
			out[i] = "REDACTED"
		}
	}
	return out
}
