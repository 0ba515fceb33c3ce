package loadgen

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEndpointRequestURI(t *testing.T) {
	cases := []struct {
		url, param string
		topics     []string
		want       string
		loopback   bool
	}{
		{"http://127.0.0.1:8080/events", "topic", []string{"a", "b c"}, "/events?topic=a&topic=b+c", true},
		{"http://127.0.0.2:8080/events?x=1", "topic", []string{"a"}, "/events?x=1&topic=a", true},
		{"http://localhost:9000/sse/{topic}", "topic", []string{"a/b"}, "/sse/a%2Fb", false},
		{"http://[::1]:9000", "channel", nil, "/", false},
	}
	for _, c := range cases {
		ep, err := parseEndpoint(c.url, c.param)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if got := ep.requestURI(c.topics); got != c.want || ep.loopbackV4 != c.loopback {
			t.Errorf("%s: %q loopback=%v, want %q %v", c.url, got, ep.loopbackV4, c.want, c.loopback)
		}
	}
	for _, bad := range []string{"https://127.0.0.1/", "127.0.0.1:80", "http:///x", "::"} {
		if _, err := parseEndpoint(bad, "topic"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseHead(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked"
	sh, err := parseHead([]byte(ok))
	if err != nil || !sh.chunked || sh.contentLength != -1 || sh.status != 200 {
		t.Fatalf("%+v %v", sh, err)
	}
	sh, err = parseHead([]byte("HTTP/1.0 200 OK\nContent-Type: TEXT/EVENT-STREAM\nContent-Length: 12"))
	if err != nil || sh.chunked || sh.contentLength != 12 {
		t.Fatalf("%+v %v", sh, err)
	}
	for head, kind := range map[string]string{
		"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain": "status",
		"HTTP/1.1 200 OK\r\nContent-Type: application/json":  "content-type",
		"HTTP/1.1 200 OK": "content-type",
		"SSH-2.0-OpenSSH": "head",
		"HTTP/1.1 2x0 OK\r\nContent-Type: text/event-stream\r\n": "head",
	} {
		if _, err := parseHead([]byte(head)); errKind(err) != kind {
			t.Errorf("%q: %v, want a %s error", head, err, kind)
		}
	}
}

func TestAppendRequest(t *testing.T) {
	got := string(appendRequest(nil, "/events?topic=a", "127.0.0.1:8080", []byte("e1-42")))
	want := "GET /events?topic=a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: ringcast-loadgen\r\nLast-Event-ID: e1-42\r\n\r\n"
	if got != want {
		t.Fatalf("%q", got)
	}
	if strings.Contains(string(appendRequest(nil, "/", "h", nil)), "Last-Event-ID") {
		t.Fatal("empty last event id sent")
	}
}

func TestSplitCommand(t *testing.T) {
	cases := map[string][]string{
		`redis-cli PUBLISH {topic} {data}`: {"redis-cli", "PUBLISH", "{topic}", "{data}"},
		`sh -c 'echo "{data}" >> f'`:       {"sh", "-c", `echo "{data}" >> f`},
		`a "b \" c" d''e`:                  {"a", `b " c`, "de"},
		"  spaced\tout  ":                  {"spaced", "out"},
	}
	for in, want := range cases {
		got, err := SplitCommand(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`a 'b`, `a "b`} {
		if _, err := SplitCommand(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCommandPublisher(t *testing.T) {
	out := filepath.Join(t.TempDir(), "published")
	argv, err := SplitCommand(`sh -c 'printf "%s %s %s\n" "$0" "$1" "$2" >> ` + out + `' {topic} {seq} {data}`)
	if err != nil {
		t.Fatal(err)
	}
	p := &CommandPublisher{Argv: argv}
	batch := []Message{{Topic: "t0", Seq: 7, Data: []byte("rc1|x")}, {Topic: "t1", Seq: 8, Data: []byte("rc1|y")}}
	if err := p.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || string(b) != "t0 7 rc1|x\nt1 8 rc1|y\n" {
		t.Fatalf("%q %v", b, err)
	}
	if err := (&CommandPublisher{Argv: []string{"false"}}).Publish(context.Background(), batch); err == nil {
		t.Fatal("a failing command did not fail the publish")
	}
}
