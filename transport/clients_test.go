package transport

// Clients nobody here wrote. tmaxmax/go-sse reads an event stream the way
// most Go users do: a bufio.Scanner whose token is one whole event, at most
// 64 KiB by default (r3labs/sse and a line-by-line bufio.Scanner have the
// same ceiling). An event it cannot read fails its connection, and a client
// that resumes gets the same event again, for ever; so the server must never
// accept an event larger than that on the wire.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gosse "github.com/tmaxmax/go-sse"

	"github.com/ringcast/ringcast/internal/servetest"
)

// wireFrame is an event's frame as the protocol describes it
// (docs/protocol.md), built here independently of the server's encoder.
func wireFrame(id, name, data string) string {
	var b strings.Builder
	b.WriteString("id: " + id + "\n")
	if name != "" {
		b.WriteString("event: " + name + "\n")
	}
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// subscribeGoSSE reads /events?topic=<topic> with go-sse's parser (Read, the
// one its Connection uses) at its default event size and sends what it reads
// on the returned channel; a read error ends it.
func subscribeGoSSE(t *testing.T, addr, topic string) (<-chan gosse.Event, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+eventsPath(topic), nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /events: %s", resp.Status)
	}
	evs, errs := make(chan gosse.Event, 16), make(chan error, 1)
	go func() {
		defer resp.Body.Close()
		for ev, err := range gosse.Read(resp.Body, nil) {
			if err != nil {
				errs <- err
				return
			}
			evs <- ev
		}
		errs <- fmt.Errorf("the stream ended")
	}()
	return evs, errs
}

// Every event the server accepts, a client with a 64 KiB event buffer reads:
// --max-event-bytes bounds the event as framed on the wire, where each line
// break of the data costs a "data: " line (the case: 48 KB of JSON,
// 128 KB on the wire). An event over it is refused at publish with 413,
// naming its framed size and the limit.
func TestStandardClientReadsEveryAcceptedEvent(t *testing.T) {
	const topic = "big"
	ts := startServer(t, Config{Epoch: "clients"})
	limit := ts.Config().MaxEventBytes
	if limit != 64<<10 {
		t.Fatalf("the default --max-event-bytes is %d; want 65536, what go-sse, r3labs/sse and bufio.Scanner read by default", limit)
	}
	// The server counts the id at its longest: a 20-digit sequence.
	longestID := ts.Config().Epoch + "-" + strings.Repeat("9", 20) + "/" + topic
	framed := func(data string) int { return len(wireFrame(longestID, "", data)) }

	evs, errs := subscribeGoSSE(t, ts.addr, topic)
	publish := func(data string) (int, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"topic": topic, "data": data})
		return ts.post("application/json", string(body))
	}

	// The event: small as JSON, too large on the wire.
	poison := strings.Repeat("a\n", 16000)
	if st, body := publish(poison); st != 413 || !strings.Contains(body, fmt.Sprintf("%d bytes", framed(poison))) ||
		!strings.Contains(body, fmt.Sprint(limit)) || !strings.Contains(body, "--max-event-bytes") {
		t.Errorf("an event of %d bytes on the wire: %d %s; want 413 naming its framed size and the limit", framed(poison), st, body)
	}
	// At the limit exactly: accepted, and read whole. A byte more: refused.
	lines := strings.Repeat("a\n", 7000)
	atLimit := lines + strings.Repeat("b", limit-framed(lines))
	if framed(atLimit) != limit {
		t.Fatalf("test bug: the frame is %d bytes", framed(atLimit))
	}
	if st, body := publish(atLimit + "b"); st != 413 || !strings.Contains(body, fmt.Sprintf("%d bytes", limit+1)) {
		t.Errorf("a byte over the limit: %d %s; want 413", st, body)
	}
	var want []string
	for _, data := range []string{atLimit, "after"} {
		st, body := publish(data)
		if st != 200 {
			t.Fatalf("an event of %d bytes framed: %d %s", framed(data), st, body)
		}
		want = append(want, data)
	}
	for i, data := range want {
		select {
		case ev := <-evs:
			if ev.Data != data {
				t.Fatalf("event %d: go-sse read %d bytes of data; want %d", i, len(ev.Data), len(data))
			}
		case err := <-errs:
			t.Fatalf("go-sse, reading event %d: %v", i, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("go-sse read no event %d within 10s", i)
		}
	}
}

// Server.Publish holds Go publishers to the same limit, with a typed error.
func TestPublishRefusesFramesOverTheLimit(t *testing.T) {
	ts := startServer(t, Config{Epoch: "clients", MaxEventBytes: 1000})
	_, err := ts.Publish(Event{Topic: "a", Data: []byte("ok")}, Event{Topic: "a", Data: []byte(strings.Repeat("\n", 200))})
	var ve *ValidationError
	if !errors.Is(err, ErrEventTooLarge) || !errors.As(err, &ve) || ve.Index != 1 || !strings.Contains(ve.Reason, "MaxEventBytes") {
		t.Fatalf("an event of 1,400 bytes framed against a 1,000-byte limit: %v; want a *ValidationError for event 2 naming MaxEventBytes", err)
	}
	if got := ts.metric(mEventsPublished); got != 0 {
		t.Fatalf("%v events published; a batch is all or nothing", got)
	}
}

// go-sse's Connection, as docs/protocol.md describes it: it reconnects after
// a clean end (a graceful shutdown here), resumes with the last id, and hands
// the application each connection's retry: frame as an unnamed event with
// no data and the last id seen; the rule the protocol gives its users (skip
// an unnamed event whose id is empty or repeats the previous one) leaves
// exactly the events and notices.
func TestGoSSEReconnectsAfterACleanEnd(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	start := func(epoch string, ln net.Listener) (*Server, func()) {
		s, err := New(Config{Epoch: epoch, Retry: 50 * time.Millisecond, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		s.fast.MaxIdleWorkerDuration = 50 * time.Millisecond
		return s, servetest.On(t, s, ln)
	}
	a, stopA := start("alpha", ln)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/events?topic=t", nil)
	client := &gosse.Client{HTTPClient: &http.Client{Transport: &http.Transport{}}, Backoff: gosse.Backoff{InitialInterval: 50 * time.Millisecond}}
	conn := client.NewConnection(req)
	got := make(chan gosse.Event, 64)
	conn.SubscribeToAll(func(ev gosse.Event) { got <- ev })
	connected := make(chan error, 1)
	go func() { connected <- conn.Connect() }()
	defer func() {
		cancel()
		<-connected
		client.HTTPClient.CloseIdleConnections()
	}()
	next := func(what string) gosse.Event {
		t.Helper()
		select {
		case ev := <-got:
			return ev
		case err := <-connected:
			t.Fatalf("%s: go-sse stopped: %v", what, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: nothing from go-sse within 10s", what)
		}
		return gosse.Event{}
	}
	var raw []gosse.Event
	read := func(what string, until func(gosse.Event) bool) {
		t.Helper()
		for {
			ev := next(what)
			raw = append(raw, ev)
			if until(ev) {
				return
			}
		}
	}
	// The first retry: frame tells us the stream is open.
	read("the stream opens", func(ev gosse.Event) bool { return true })
	ids, err := a.Publish(Event{Topic: "t", Data: []byte("a1")}, Event{Topic: "t", Data: []byte("a2")})
	if err != nil {
		t.Fatal(err)
	}
	read("alpha's events", func(ev gosse.Event) bool { return ev.Data == "a2" })

	// A graceful shutdown ends the stream cleanly; a new server (a restart)
	// takes the address, and go-sse comes back with the last id.
	stopA()
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the restarted server cannot take %s: %v", addr, err)
	}
	b, stopB := start("beta", ln)
	defer stopB()
	read("the reset after the restart", func(ev gosse.Event) bool { return ev.Type == EventReset })
	live, err := b.Publish(Event{Topic: "t", Data: []byte("b1")})
	if err != nil {
		t.Fatal(err)
	}
	read("beta's event", func(ev gosse.Event) bool { return ev.Data == "b1" })

	var kept []string
	retryFrames, last := 0, ""
	for _, ev := range raw {
		if ev.Type == "" && (ev.LastEventID == "" || ev.LastEventID == last) {
			retryFrames++
			continue
		}
		kept = append(kept, ev.Type+" "+ev.LastEventID+" "+ev.Data)
		last = ev.LastEventID
	}
	want := []string{" " + ids[0] + " a1", " " + ids[1] + " a2",
		EventReset + " " + ids[1] + ` {"reason":"epoch","lastEventId":"` + ids[1] + `","missed":null}`, " " + live[0] + " b1"}
	if strings.Join(kept, "\n") != strings.Join(want, "\n") || retryFrames != 2 {
		t.Fatalf("go-sse delivered %+v;\nafter the documented filter (%d retry frames):\n%s\nwant:\n%s",
			raw, retryFrames, strings.Join(kept, "\n"), strings.Join(want, "\n"))
	}
}
