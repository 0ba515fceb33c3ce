// Package ssetest is a minimal SSE server for testing the load generator: the
// wire contract of ringcast (GET /events with topics and Last-Event-ID, POST
// /publish with JSON or NDJSON, lagged and reset notices) on net/http, with
// faults that can be switched on: a publish handler that stalls once, a hub
// that drops chosen events silently or with a lagged notice, and a client
// window that overruns slow readers.
//
// It keeps every event in one history slice under a mutex and wakes streams
// with a sync.Cond: simple enough to be obviously right at test scale.
package ssetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options switch the server's behaviour; the zero value is a well-behaved
// server.
type Options struct {
	// Retry is sent as the first frame's retry: (default 50ms).
	Retry time.Duration
	// Window is how many events behind the newest a client may fall before it
	// is overrun (it then gets "event: lagged" with the exact count) and how
	// far back Last-Event-ID can resume. Default 1<<16.
	Window int
	// KeepAlive, when set, writes ": keep-alive" on streams idle that long.
	KeepAlive time.Duration
	// StallIf, when set, is asked for every published event's data; the
	// first request holding an event it accepts waits StallFor before it is
	// accepted (once over the server's life): the server stalls on purpose.
	StallIf  func(data []byte) bool
	StallFor time.Duration
	// Drop, when set, is asked for every event and stream: true drops the
	// event for that stream. NotifyDrops sends a lagged notice first.
	Drop        func(seq uint64, data []byte) bool
	NotifyDrops bool
	// CloseAfter, when set, is asked for every event a stream sends: true
	// ends that stream (cleanly, with the last chunk) right after the event,
	// so the client must reconnect and resume with Last-Event-ID.
	CloseAfter func(seq uint64, data []byte) bool
	// Epoch prefixes event ids ("e1").
	Epoch string
	// Admin, when set, serves net/http/pprof on a second loopback listener.
	Admin bool
	// Addr and AdminAddr are the listen addresses (default 127.0.0.1:0).
	Addr, AdminAddr string
}

type event struct {
	topic string
	name  string
	data  []byte
}

// Server is a running test server.
type Server struct {
	// URL is the base URL (http://127.0.0.1:port); AdminURL the pprof
	// listener's when Options.Admin.
	URL      string
	AdminURL string

	opts   Options
	srv    *http.Server
	admin  *http.Server
	mu     sync.Mutex
	cond   *sync.Cond
	events []event // events[i] has sequence i+1
	closed bool
	stalls atomic.Bool

	streams   atomic.Int64
	remoteMu  sync.Mutex
	remotes   map[string]int
	published atomic.Int64
	wg        sync.WaitGroup
	done      chan struct{}
}

// Start listens on 127.0.0.1 and serves until Close.
func Start(opts Options) (*Server, error) {
	if opts.Retry == 0 {
		opts.Retry = 50 * time.Millisecond
	}
	if opts.Window == 0 {
		opts.Window = 1 << 16
	}
	if opts.Epoch == "" {
		opts.Epoch = "e1"
	}
	s := &Server{opts: opts, done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", s.handleEvents)
	mux.HandleFunc("POST /publish", s.handlePublish)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.AdminAddr == "" {
		opts.AdminAddr = "127.0.0.1:0"
	}
	s.opts = opts
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: mux}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.Serve(ln)
	}()
	if opts.Admin {
		aln, err := net.Listen("tcp", opts.AdminAddr)
		if err != nil {
			s.Close()
			return nil, err
		}
		amux := http.NewServeMux()
		amux.HandleFunc("/debug/pprof/", pprof.Index)
		amux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.AdminURL = "http://" + aln.Addr().String()
		s.admin = &http.Server{Handler: amux}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.admin.Serve(aln)
		}()
	}
	if opts.KeepAlive > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTicker(opts.KeepAlive)
			defer t.Stop()
			for {
				select {
				case <-s.done:
					return
				case <-t.C:
					s.cond.Broadcast()
				}
			}
		}()
	}
	return s, nil
}

// Close stops the server and ends every stream.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.cond.Broadcast()
	s.mu.Unlock()
	s.srv.Close()
	if s.admin != nil {
		s.admin.Close()
	}
	s.wg.Wait()
}

// Published returns how many events were accepted.
func (s *Server) Published() int64 { return s.published.Load() }

// RemoteIPs returns how many streams each client address opened.
func (s *Server) RemoteIPs() map[string]int {
	s.remoteMu.Lock()
	defer s.remoteMu.Unlock()
	out := make(map[string]int, len(s.remotes))
	for k, v := range s.remotes {
		out[k] = v
	}
	return out
}

// Streams returns how many streams are open now.
func (s *Server) Streams() int64 { return s.streams.Load() }

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "# TYPE ssetest_published_total counter\nssetest_published_total %d\n", s.published.Load())
	fmt.Fprintf(w, "ssetest_streams %d\n", s.streams.Load())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(w, "go_memstats_heap_inuse_bytes %d\ngo_memstats_stack_inuse_bytes %d\n", ms.HeapInuse, ms.StackInuse)
}

type publishReq struct {
	Topic string          `json:"topic"`
	Event string          `json:"event"`
	Key   string          `json:"key"`
	Data  json.RawMessage `json:"data"`
}

func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, `{"error":"read"}`, 400)
		return
	}
	var reqs []publishReq
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "application/x-ndjson"):
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for line := 1; sc.Scan(); line++ {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var pr publishReq
			if err := json.Unmarshal(sc.Bytes(), &pr); err != nil || pr.Topic == "" {
				writeJSONError(w, 400, fmt.Sprintf("line %d: bad event", line))
				return
			}
			reqs = append(reqs, pr)
		}
	case strings.HasPrefix(ct, "application/json"):
		var pr publishReq
		if err := json.Unmarshal(body, &pr); err != nil || pr.Topic == "" {
			writeJSONError(w, 400, "bad event")
			return
		}
		reqs = append(reqs, pr)
	default:
		writeJSONError(w, 415, "want application/json or application/x-ndjson")
		return
	}
	evs := make([]event, len(reqs))
	stall := false
	for i, pr := range reqs {
		data := []byte(pr.Data)
		var str string
		if json.Unmarshal(pr.Data, &str) == nil {
			data = []byte(str)
		}
		evs[i] = event{topic: pr.Topic, name: pr.Event, data: data}
		stall = stall || (s.opts.StallIf != nil && !s.stalls.Load() && s.opts.StallIf(data))
	}
	if stall && s.stalls.CompareAndSwap(false, true) {
		select {
		case <-time.After(s.opts.StallFor):
		case <-s.done:
		}
	}
	ids := make([]string, 0, len(reqs))
	s.mu.Lock()
	for _, ev := range evs {
		s.events = append(s.events, ev)
		ids = append(ids, s.id(uint64(len(s.events))))
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	s.published.Add(int64(len(reqs)))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string][]string{"ids": ids})
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (s *Server) id(seq uint64) string { return s.opts.Epoch + "-" + strconv.FormatUint(seq, 10) }

// resume turns a Last-Event-ID into the next sequence to send, or a reset.
func (s *Server) resume(last string, newest uint64) (next uint64, reset string) {
	if last == "" {
		return newest + 1, ""
	}
	epoch, num, ok := strings.Cut(last, "-")
	seq, err := strconv.ParseUint(num, 10, 64)
	switch {
	case !ok || err != nil:
		return newest + 1, "malformed"
	case epoch != s.opts.Epoch:
		return newest + 1, "epoch"
	case seq > newest:
		return newest + 1, "malformed"
	case newest-seq > uint64(s.opts.Window):
		return newest + 1, "too-old"
	}
	return seq + 1, ""
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "no flusher", 500)
		return
	}
	topics := map[string]bool{}
	for _, t := range r.URL.Query()["topic"] {
		topics[t] = true
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("lastEventId")
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(200)

	s.streams.Add(1)
	defer s.streams.Add(-1)
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		s.remoteMu.Lock()
		if s.remotes == nil {
			s.remotes = map[string]int{}
		}
		s.remotes[host]++
		s.remoteMu.Unlock()
	}
	stop := context.AfterFunc(r.Context(), func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "retry: %d\n\n", s.opts.Retry.Milliseconds())
	s.mu.Lock()
	newest := uint64(len(s.events))
	next, reset := s.resume(last, newest)
	s.mu.Unlock()
	if reset != "" {
		fmt.Fprintf(&buf, "event: reset\ndata: {\"reason\":%q,\"lastEventId\":%q,\"missed\":null}\n\n", reset, last)
	}
	lastWrite := time.Now()
	for {
		if buf.Len() > 0 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			fl.Flush()
			buf.Reset()
			lastWrite = time.Now()
		}
		s.mu.Lock()
		for uint64(len(s.events)) < next && !s.closed && r.Context().Err() == nil &&
			(s.opts.KeepAlive == 0 || time.Since(lastWrite) < s.opts.KeepAlive) {
			s.cond.Wait()
		}
		if s.closed || r.Context().Err() != nil {
			s.mu.Unlock()
			return
		}
		newest = uint64(len(s.events))
		if newest >= next && newest-next >= uint64(s.opts.Window) {
			skipped := newest - uint64(s.opts.Window) + 1 - next
			fmt.Fprintf(&buf, "event: lagged\ndata: {\"skipped\":%d}\n\n", skipped)
			next += skipped
		}
		pending := s.events[next-1 : newest]
		s.mu.Unlock()
		if len(pending) == 0 {
			buf.WriteString(": keep-alive\n\n")
			continue
		}
		for i, ev := range pending {
			seq := next + uint64(i)
			if len(topics) > 0 && !topics[ev.topic] {
				continue
			}
			if s.opts.Drop != nil && s.opts.Drop(seq, ev.data) {
				if s.opts.NotifyDrops {
					buf.WriteString("event: lagged\ndata: {\"skipped\":1}\n\n")
				}
				continue
			}
			writeEvent(&buf, s.id(seq), ev)
			if s.opts.CloseAfter != nil && s.opts.CloseAfter(seq, ev.data) {
				w.Write(buf.Bytes())
				return
			}
		}
		next = newest + 1
	}
}

// writeEvent frames one event; data with line breaks becomes several data lines.
func writeEvent(b *bytes.Buffer, id string, ev event) {
	b.WriteString("id: ")
	b.WriteString(id)
	b.WriteByte('\n')
	if ev.name != "" {
		b.WriteString("event: ")
		b.WriteString(ev.name)
		b.WriteByte('\n')
	}
	data := ev.data
	for {
		i := bytes.IndexAny(data, "\r\n")
		b.WriteString("data: ")
		if i < 0 {
			b.Write(data)
			b.WriteByte('\n')
			break
		}
		b.Write(data[:i])
		b.WriteByte('\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	b.WriteByte('\n')
}
