package transport

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The admin listener answers only requests that name this machine: a page
// whose DNS name was rebound to 127.0.0.1 must not read pprof (issue 17,
// item 3).
func TestAdminRefusesForeignHost(t *testing.T) {
	ts := startServer(t, Config{PublishToken: "pubsecret"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- ts.ServeAdmin(ln) }()
	t.Cleanup(func() { shutdownAndWait(t, ts.Server, served, "ServeAdmin") }) // before startServer's
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		host, origin string
		status       int
	}{
		{"attacker.example", "", 403},
		{"attacker.example:" + port, "", 403},
		{"127.0.0.2:" + port, "", 200}, // every loopback address names this machine
		{"localhost:" + port, "http://attacker.example", 403},
		{addr, "", 200},
		{"localhost:" + port, "", 200},
		{"[::1]:" + port, "http://localhost:8080", 200},
	} {
		for _, path := range []string{"/debug/pprof/cmdline", "/metrics", "/healthz"} {
			req := "GET " + path + " HTTP/1.1\r\nHost: " + tc.host + "\r\n"
			if tc.origin != "" {
				req += "Origin: " + tc.origin + "\r\n"
			}
			r := rawRoundTrip(t, addr, "", req+"\r\n")
			if r.status != tc.status {
				t.Errorf("%s with Host %q, Origin %q: %d %.100s; want %d", path, tc.host, tc.origin, r.status, r.body, tc.status)
			}
			if r.status == 403 && !strings.Contains(errorOf(t, r), "this machine") {
				t.Errorf("%s with Host %q: the refusal does not say why: %s", path, tc.host, r.body)
			}
		}
	}
}

func TestRedactArgs(t *testing.T) {
	got := redactArgs([]string{"ringcast", "serve", "--publish-token=s3cret", "-subscribe-token", "x2",
		"--publish-token-file", "/run/pub", "--addr", ":8080", "--subscribe-token"})
	want := []string{"ringcast", "serve", "--publish-token=REDACTED", "-subscribe-token", "REDACTED",
		"--publish-token-file", "/run/pub", "--addr", ":8080", "--subscribe-token"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("redactArgs: %q\nwant %q", got, want)
	}
}

// Tokens can come from files, which /proc does not show (issue 17, item 3).
func TestTokenFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub, sub := write("pub", "pub-token\n"), write("sub", "sub-token")
	ts := startServer(t, Config{PublishTokenFile: pub, SubscribeTokenFile: sub})
	if cfg := ts.Config(); cfg.PublishToken != "pub-token" || cfg.SubscribeToken != "sub-token" {
		t.Fatalf("tokens read: %q %q", cfg.PublishToken, cfg.SubscribeToken)
	}
	if code, _ := ts.post("application/json", `{"topic":"a"}`); code != 401 {
		t.Errorf("publish without the token: %d", code)
	}
	if code, body := ts.post("application/json", `{"topic":"a"}`, "Authorization", "Bearer pub-token"); code != 200 {
		t.Errorf("publish with the file's token: %d %s", code, body)
	}
	if c := dial(t, ts.addr, "/events", dialOpt{header: []string{"Authorization", "Bearer sub-token"}}); c.status() != 200 {
		t.Errorf("subscribe with the file's token: %s", c.Head)
	}

	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{PublishToken: "a", PublishTokenFile: pub}, "PublishTokenFile"},
		{Config{SubscribeTokenFile: filepath.Join(dir, "missing")}, "SubscribeTokenFile"},
		{Config{PublishTokenFile: write("empty", "\n")}, "PublishTokenFile"},
		{Config{PublishTokenFile: write("bad", "a b\n")}, "PublishTokenFile"},
	} {
		_, err := New(tc.cfg)
		var ce *ConfigError
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v; want an error naming %s", tc.cfg, err, tc.want)
		} else if errors.As(err, &ce) && ce.Field != tc.want {
			t.Errorf("New(%+v): the error names %s; want %s", tc.cfg, ce.Field, tc.want)
		}
	}
}
