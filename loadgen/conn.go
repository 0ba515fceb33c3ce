package loadgen

// A subscriber speaks HTTP/1.1 itself instead of using net/http: net/http's
// client keeps three goroutines and two bufio buffers per connection, which at
// 10,000 streams costs the load generator more than the server it measures.
// Here one goroutine owns one socket and one read buffer; the response head is
// parsed once, and the body goes through the chunked decoder (when the server
// chunks) straight into the SSE parser.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// maxHeadBytes bounds the response head of a stream.
const maxHeadBytes = 64 << 10

// headBufferBytes is the first buffer for the response head of a stream that
// an event loop will read.
const headBufferBytes = 2 << 10

// streamError is a failure of one subscriber connection, with the phase it
// happened in, so the report can count them apart.
type streamError struct {
	Kind string // dial, write, head, status, content-type, read, chunked, parse, closed
	Err  error
}

func (e *streamError) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *streamError) Unwrap() error { return e.Err }

func errKind(err error) string {
	var se *streamError
	if errors.As(err, &se) {
		return se.Kind
	}
	return "other"
}

// endpoint is the SSE URL taken apart once for every subscriber.
type endpoint struct {
	dialAddr   string // host:port to dial
	hostHeader string
	path       string // path and query as sent, without topic parameters
	hasQuery   bool
	topicParam string
	loopbackV4 bool
	raw        string
}

func parseEndpoint(raw, topicParam string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("SSE URL %q: %v", raw, err)
	}
	if u.Scheme != "http" {
		return endpoint{}, fmt.Errorf("SSE URL %q: only http:// is supported (the load generator measures servers over plain sockets)", raw)
	}
	if u.Host == "" {
		return endpoint{}, fmt.Errorf("SSE URL %q has no host", raw)
	}
	ep := endpoint{hostHeader: u.Host, topicParam: topicParam, raw: raw}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	ep.dialAddr = net.JoinHostPort(host, port)
	if ip := net.ParseIP(host); ip != nil && ip.To4() != nil && ip.IsLoopback() {
		ep.loopbackV4 = true
	}
	ep.path = u.EscapedPath()
	for _, esc := range []string{"%7Btopic%7D", "%7btopic%7d"} {
		ep.path = strings.ReplaceAll(ep.path, esc, "{topic}") // the placeholder, not a literal
	}
	if ep.path == "" {
		ep.path = "/"
	}
	if u.RawQuery != "" {
		ep.path += "?" + u.RawQuery
		ep.hasQuery = true
	}
	return ep, nil
}

// requestURI is the request target for a subscriber of topics: "{topic}" in the
// URL is replaced by the first topic, otherwise each topic becomes a query
// parameter.
func (ep endpoint) requestURI(topics []string) string {
	if strings.Contains(ep.path, "{topic}") {
		t := ""
		if len(topics) > 0 {
			t = url.PathEscape(topics[0])
		}
		return strings.ReplaceAll(ep.path, "{topic}", t)
	}
	var b strings.Builder
	b.WriteString(ep.path)
	sep := byte('?')
	if ep.hasQuery {
		sep = '&'
	}
	for _, t := range topics {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(url.QueryEscape(ep.topicParam))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(t))
	}
	return b.String()
}

// streamHead is what the response head says about the body that follows.
type streamHead struct {
	status        int
	chunked       bool
	contentLength int64 // -1 when the body runs until the connection closes
}

// appendRequest writes the GET that opens a stream. lastID is never empty here
// when sent, and comes from the SSE parser, so it holds no CR, LF or NUL.
func appendRequest(dst []byte, uri, host string, lastID []byte) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, uri...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: ringcast-loadgen\r\n"...)
	if len(lastID) > 0 {
		dst = append(dst, "Last-Event-ID: "...)
		dst = append(dst, lastID...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// openStream dials, sends the request and reads the response head into buf.
// It returns the connection and the body bytes that arrived with the head
// (a sub-slice of buf).
func openStream(ctx context.Context, d *net.Dialer, ep endpoint, uri string, lastID []byte, buf []byte) (net.Conn, streamHead, []byte, error) {
	conn, err := d.DialContext(ctx, "tcp", ep.dialAddr)
	if err != nil {
		return nil, streamHead{}, nil, &streamError{"dial", err}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req := appendRequest(buf[:0], uri, ep.hostHeader, lastID)
	if _, err := conn.Write(req); err != nil {
		conn.Close()
		return nil, streamHead{}, nil, &streamError{"write", err}
	}
	n := 0
	var head []byte
	var bodyStart int
	for {
		if n == len(buf) {
			if len(buf) >= maxHeadBytes {
				conn.Close()
				return nil, streamHead{}, nil, &streamError{"head", errors.New("response head too large")}
			}
			nb := make([]byte, min(2*len(buf), maxHeadBytes))
			copy(nb, buf[:n])
			buf = nb
		}
		m, err := conn.Read(buf[n:])
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 {
			head, bodyStart = buf[:i], i+4
			break
		}
		if i := bytes.Index(buf[:n], []byte("\n\n")); i >= 0 {
			head, bodyStart = buf[:i], i+2
			break
		}
		if err != nil {
			conn.Close()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, streamHead{}, nil, &streamError{"head", err}
		}
	}
	sh, err := parseHead(head)
	if err != nil {
		conn.Close()
		return nil, sh, nil, err
	}
	return conn, sh, buf[bodyStart:n], nil
}

func parseHead(head []byte) (streamHead, error) {
	sh := streamHead{contentLength: -1}
	lines := bytes.Split(head, []byte("\n"))
	status := bytes.TrimRight(lines[0], "\r")
	if !bytes.HasPrefix(status, []byte("HTTP/1.")) || len(status) < 12 {
		return sh, &streamError{"head", fmt.Errorf("bad status line %q", status)}
	}
	code, err := strconv.Atoi(string(status[9:12]))
	if err != nil {
		return sh, &streamError{"head", fmt.Errorf("bad status line %q", status)}
	}
	sh.status = code
	var ctype []byte
	for _, ln := range lines[1:] {
		ln = bytes.TrimRight(ln, "\r")
		c := bytes.IndexByte(ln, ':')
		if c <= 0 {
			continue
		}
		name, value := ln[:c], bytes.TrimSpace(ln[c+1:])
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			sh.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Content-Length")):
			if v, err := strconv.ParseInt(string(value), 10, 64); err == nil && v >= 0 {
				sh.contentLength = v
			}
		case bytes.EqualFold(name, []byte("Content-Type")):
			ctype = value
		}
	}
	if code != 200 {
		return sh, &streamError{"status", fmt.Errorf("HTTP %d", code)}
	}
	mt := ctype
	if i := bytes.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	if !bytes.EqualFold(bytes.TrimSpace(mt), []byte("text/event-stream")) {
		return sh, &streamError{"content-type", fmt.Errorf("content type %q, want text/event-stream", ctype)}
	}
	if sh.chunked {
		sh.contentLength = -1
	}
	return sh, nil
}
