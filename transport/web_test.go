package transport

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

func TestWebPageRoutes(t *testing.T) {
	ts := startServer(t, Config{})
	r := rawRoundTrip(t, ts.addr, "", getReq(ts.addr, "/", "Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"))
	if r.status != 200 || r.header.Get("Content-Type") != "text/html; charset=utf-8" ||
		r.header.Get("Content-Security-Policy") != webCSP || r.header.Get("X-Frame-Options") != "DENY" ||
		r.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.body, `<script src="/ui/app.js" defer></script>`) {
		t.Fatalf("the page: %d %v\n%.300s", r.status, r.header, r.body)
	}
	etag := r.header.Get("ETag")
	if r := rawRoundTrip(t, ts.addr, "", getReq(ts.addr, "/", "Accept", "text/html", "If-None-Match", etag)); r.status != 304 || r.body != "" {
		t.Errorf("revalidation: %d %q", r.status, r.body)
	}
	// curl gets the plain-text summary.
	if r := rawRoundTrip(t, ts.addr, "", getReq(ts.addr, "/", "Accept", "*/*")); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("curl's /: %d %v", r.status, r.header)
	}
	for path, ctype := range map[string]string{"/ui/app.js": "text/javascript; charset=utf-8", "/ui/app.css": "text/css; charset=utf-8"} {
		if r := rawRoundTrip(t, ts.addr, "", getReq(ts.addr, path)); r.status != 200 || r.header.Get("Content-Type") != ctype || r.header.Get("ETag") == "" {
			t.Errorf("%s: %d %v", path, r.status, r.header)
		}
	}
	if r := rawRoundTrip(t, ts.addr, "", postReq(ts.addr, "/ui/app.js", "text/plain", "x")); r.status != 405 {
		t.Errorf("POST /ui/app.js: %d", r.status)
	}
}

func TestWebInfo(t *testing.T) {
	info := func(ts *testServer, host string) map[string]any {
		t.Helper()
		req := strings.Replace(getReq(ts.addr, "/ui/info"), "Host: "+ts.addr, "Host: "+host, 1)
		r := rawRoundTrip(t, ts.addr, "", req)
		var m map[string]any
		if err := json.Unmarshal([]byte(r.body), &m); err != nil || r.status != 200 {
			t.Fatalf("/ui/info: %d %q", r.status, r.body)
		}
		return m
	}
	open := startServer(t, Config{})
	if m := info(open, open.addr); m["publish"] != "open" || m["subscribeToken"] != false || m["epoch"] != testEpoch {
		t.Errorf("open server, loopback: %v", m)
	}
	if m := info(open, "evil.example"); m["publish"] != "forbidden" || !strings.Contains(m["publishWhy"].(string), "--publish-token") {
		t.Errorf("open server, foreign Host: %v", m)
	}
	locked := startServer(t, Config{PublishToken: "p", SubscribeToken: "s"})
	if m := info(locked, "evil.example"); m["publish"] != "token" || m["subscribeToken"] != true {
		t.Errorf("tokens: %v", m)
	}
}

// The page loads nothing from elsewhere (it works offline, and the CSP
// would block it anyway) and never turns received text into markup.
func TestWebPageIsSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?(https?:)?//`)
	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setTimeout\(\s*["']`)
	err := fs.WalkDir(webFiles, "web", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := webFiles.ReadFile(path)
		if m := external.Find(b); m != nil {
			t.Errorf("%s loads from elsewhere: %q", path, m)
		}
		if m := sinks.Find(b); m != nil {
			t.Errorf("%s uses a markup or code sink: %q", path, m)
		}
		if strings.HasSuffix(path, ".html") && regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).Match(b) {
			t.Errorf("%s has an inline script (the CSP forbids it)", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
