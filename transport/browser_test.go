//go:build unix

package transport

// The real-browser test: the page at / in headless Chromium, driven over the
// DevTools protocol (internal/headless). It needs Debian's chromium (or
// $RINGCAST_CHROMIUM); without one it skips, saying why, unless
// RINGCAST_REQUIRE_BROWSER is set (.ci/run sets it), when it fails.
//
// The browser reaches the server through a proxy of the test's own (all on
// 127.0.0.1), which can hold new connections and cut open ones: it plays
// the network between a browser and a server that drops it or restarts.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ringcast/ringcast/internal/servetest"
	"github.com/ringcast/ringcast/transport/internal/headless"
)

func TestBrowserPage(t *testing.T) {
	path := browserOrSkip(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	a := startBrowserServer(t, "alpha", Config{})
	proxy := startCutProxy(t, a.addr)

	br, err := headless.Start(ctx, path, dir)
	if err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Cleanup(br.Close)
	page, err := br.NewPage(ctx)
	if err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	defer func() { // before the cleanups stop the servers: the page as it failed
		if t.Failed() {
			saveBrowserEvidence(t, page, br, dir)
		}
	}()
	step := func(what string, d time.Duration, cond func(v pageView) bool) pageView {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		var v pageView
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			err := page.Eval(sctx, pageViewJS, &v)
			if err == nil && cond(v) {
				return v
			}
			select {
			case <-sctx.Done():
				t.Fatalf("%s: not within %v (last error %v); the page shows:\n%s", what, d, err, v)
			case <-tick.C:
			}
		}
	}

	if err := page.Navigate(ctx, "http://"+proxy.addr()+"/?topic=demo"); err != nil {
		t.Fatal(err)
	}
	step("the stream opens", 15*time.Second, func(v pageView) bool { return v.State == "open" && v.Epoch == "alpha" && v.PublishEnabled })

	// Events published over HTTP appear, with their topic; another topic's do not.
	var want []string // ids, in order, of what the page must show
	post := func(addr, topic, data string) string {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"topic": topic, "data": data})
		resp, err := client.Post("http://"+addr+"/publish", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			IDs   []string
			Error string
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 || len(r.IDs) != 1 {
			t.Fatalf("publish %s/%s: %d %v %+v", topic, data, resp.StatusCode, err, r)
		}
		return r.IDs[0]
	}
	for _, d := range []string{"one", "two <b>not bold</b>", "three\nlines\r\nof it"} {
		want = append(want, post(a.addr, "demo", d))
	}
	post(a.addr, "other", "not for this page")
	v := step("three events appear", 10*time.Second, func(v pageView) bool { return len(v.events()) >= 3 })
	evs := v.events()
	if evs[0].Data != "one" || evs[1].Data != "two <b>not bold</b>" || evs[2].Data != "three\nlines\nof it" {
		t.Fatalf("the page shows the wrong data:\n%s", v)
	}
	if v.Hidden != "?" || !strings.Contains(v.HiddenNote, "cannot count") {
		t.Fatalf("following one topic the page cannot count hidden named events, and must say so: %q, %q", v.Hidden, v.HiddenNote)
	}
	for _, e := range evs {
		if e.Topic != "demo" || e.Type != "message" || e.Age == "" {
			t.Fatalf("an event lacks its topic, type or age:\n%s", v)
		}
	}

	// The page's own form publishes.
	if err := page.Eval(ctx, `(() => {
		document.getElementById('pub-topic').value = 'demo';
		document.getElementById('pub-data').value = 'from the form';
		document.getElementById('publish-form').requestSubmit();
		return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	v = step("the form's event appears", 10*time.Second, func(v pageView) bool {
		return len(v.events()) == 4 && strings.HasPrefix(v.PubResult, "published ")
	})
	formID := strings.TrimPrefix(v.PubResult, "published ")
	if e := v.events()[3]; e.ID != formID || e.Data != "from the form" {
		t.Fatalf("form published %s, the page shows:\n%s", formID, v)
	}
	want = append(want, formID)

	// The connection drops. While the browser cannot get back, four more
	// events are published; when it does, EventSource resumes with
	// Last-Event-ID and must receive exactly those four.
	proxy.pause()
	proxy.cutAll()
	step("the page notices the drop", 10*time.Second, func(v pageView) bool { return v.State == "reconnecting" })
	for _, d := range []string{"m1", "m2", "m3", "m4"} {
		want = append(want, post(a.addr, "demo", d))
	}
	post(a.addr, "other", "still not for this page")
	replayedBefore := a.metric(mReplayed)
	proxy.resume()
	v = step("the missed events arrive", 10*time.Second, func(v pageView) bool { return len(v.Rows) >= 8 && v.State == "open" })
	if got := a.lastEventIDs(); len(got) < 2 || got[len(got)-1] != formID {
		t.Fatalf("the reconnection sent Last-Event-ID %q; want %q last", got, formID)
	}
	if got := v.ids(); strings.Join(got, " ") != strings.Join(want, " ") || len(v.Rows) != len(want) {
		t.Fatalf("after the resume the page shows ids %v; want exactly %v (no loss, no duplicate, no notice):\n%s", got, want, v)
	}
	if got := a.metric(mReplayed) - replayedBefore; got != 4 {
		t.Fatalf("the server replayed %v events on the resume; want 4", got)
	}

	// The page falls behind: its stream is held after a write while the
	// topic's ring (16 events, at most 32 held) is overrun by 40; released, it is told
	// exactly how many it skipped and continues from the oldest held.
	a.gate.close()
	held := post(a.addr, "demo", "before the overrun")
	want = append(want, held)
	step("the page shows the event before the overrun", 10*time.Second, func(v pageView) bool { return len(v.Rows) == len(want) })
	var burst []string
	for i := range 40 {
		burst = append(burst, post(a.addr, "demo", "burst "+strconv.Itoa(i)))
	}
	a.gate.release()
	v = step("the lagged notice and the rest arrive", 10*time.Second, func(v pageView) bool {
		for i, r := range v.Rows {
			if r.Kind == "lagged" {
				n, _ := strconv.Atoi(r.Skipped)
				return len(v.Rows) == i+1+len(burst)-n
			}
		}
		return false
	})
	lag := v.Rows[len(want)]
	skipped, err := strconv.Atoi(lag.Skipped)
	if lag.Kind != "lagged" || err != nil || skipped < 1 || skipped > len(burst) {
		t.Fatalf("after the overrun: %+v; want a lagged notice:\n%s", lag, v)
	}
	want = append(want, "<lagged>")
	want = append(want, burst[skipped:]...)
	if got := v.ids(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("after the overrun the page shows %v; want %v", got, want)
	}

	// The server restarts: a new epoch. The browser's id is from the old
	// one, so it gets a reset notice, then live events.
	proxy.pause()
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	if err := a.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	scancel()
	step("the page notices the restart", 10*time.Second, func(v pageView) bool { return v.State == "reconnecting" })
	b := startBrowserServer(t, "beta", Config{})
	proxy.setBackend(b.addr)
	proxy.resume()
	v = step("the reset notice arrives", 10*time.Second, func(v pageView) bool {
		return len(v.Rows) == len(want)+1 && v.State == "open" && v.Epoch == "beta"
	})
	last := v.Rows[len(v.Rows)-1]
	if last.Kind != "reset" || last.Reason != "epoch" || last.LastEventID != want[len(want)-1] || last.Missed != "" {
		t.Fatalf("after the restart: %+v; want a reset notice, reason epoch, for %s, missed unknown:\n%s", last, want[len(want)-1], v)
	}
	if got := b.lastEventIDs(); len(got) != 1 || got[0] != want[len(want)-1] {
		t.Fatalf("the new server saw Last-Event-ID %q; want %q", got, want[len(want)-1])
	}
	live := post(b.addr, "demo", "after the restart")
	v = step("live events follow the reset", 10*time.Second, func(v pageView) bool { return len(v.Rows) == len(want)+2 })
	if e := v.Rows[len(v.Rows)-1]; e.ID != live || !strings.HasPrefix(live, "beta-") || e.Data != "after the restart" {
		t.Fatalf("after the reset the page shows %+v; want %s", e, live)
	}
	if v.LastID != live {
		t.Fatalf("the page's last id is %q; want %q", v.LastID, live)
	}
	// With --subscribe-token the stream refuses the page until a person
	// gives it the token, which the page keeps in a cookie: the one
	// credential EventSource sends by itself.
	c := startBrowserServer(t, "gamma", Config{SubscribeToken: "let-me-in"})
	if err := page.Navigate(ctx, "http://"+c.addr+"/"); err != nil {
		t.Fatal(err)
	}
	step("the stream is refused without the token", 10*time.Second, func(v pageView) bool {
		return v.State == "closed" && v.TokenForm && len(v.Rows) == 0
	})
	if err := page.Eval(ctx, `(() => {
		document.getElementById('sub-token').value = 'let-me-in';
		document.getElementById('token-form').requestSubmit();
		return true; })()`, nil); err != nil {
		t.Fatal(err)
	}
	step("the stream opens with the cookie", 10*time.Second, func(v pageView) bool { return v.State == "open" })
	gid := post(c.addr, "any", "for token holders")
	v = step("events flow", 10*time.Second, func(v pageView) bool { return len(v.Rows) == 1 })
	if e := v.Rows[0]; e.ID != gid || e.Data != "for token holders" {
		t.Fatalf("with the token the page shows %+v; want %s", e, gid)
	}
	if got := c.metric(mRequestsRejected + `{reason="subscribe-unauthorized"}`); got < 1 {
		t.Fatalf("the refusal was not counted: %v", got)
	}

	// With signed tokens, the page given a token (kept in the cookie, as an
	// application would set it) follows all topics and sees exactly those
	// its claim allows. When the token expires the stream ends with the
	// expired notice; a fresh token resumes it where it stopped.
	e := startBrowserServer(t, "epsilon", Config{JWTSecret: testKeys().secret, JWTLeeway: -1})
	if err := page.Navigate(ctx, "http://"+e.addr+"/"); err != nil {
		t.Fatal(err)
	}
	step("the stream is refused without a token", 10*time.Second, func(v pageView) bool {
		return v.State == "closed" && v.TokenForm && len(v.Rows) == 0
	})
	claim := []string{"team.7.*", "user.42"}
	useToken := func(tok string) {
		t.Helper()
		if err := page.Eval(ctx, `((tok) => {
			document.getElementById('sub-token').value = tok;
			document.getElementById('token-form').requestSubmit();
			return true; })(`+strconv.Quote(tok)+`)`, nil); err != nil {
			t.Fatal(err)
		}
	}
	useToken(hsToken(t, 3*time.Second, claim, nil)) // exp has one-second precision: 2 to 3s
	step("the stream opens with the token in the cookie", 10*time.Second, func(v pageView) bool { return v.State == "open" })
	var mine []string
	for _, topic := range []string{"team.70.x", "team.7.x", "user.420", "user.42", "other", "team.7", "team.7.y.z"} {
		ids, err := e.Publish(Event{Topic: topic, Data: []byte("to " + topic)})
		if err != nil {
			t.Fatal(err)
		}
		if topic == "team.7.x" || topic == "user.42" || topic == "team.7.y.z" {
			mine = append(mine, ids[0])
		}
	}
	// The stream is in order: once the last allowed event is shown, any
	// other topic's event would have been shown before it.
	v = step("the claim's events appear", 10*time.Second, func(v pageView) bool {
		evs := v.events()
		return len(evs) > 0 && evs[len(evs)-1].ID == mine[len(mine)-1]
	})
	if got := v.ids(); strings.Join(got, " ") != strings.Join(mine, " ") {
		t.Fatalf("the page shows %q; want only its claim's %q:\n%s", got, mine, v)
	}
	v = step("the expired notice", 10*time.Second, func(v pageView) bool {
		return len(v.Rows) > 0 && v.Rows[len(v.Rows)-1].Kind == "expired"
	})
	if r := v.Rows[len(v.Rows)-1]; r.Reason != "token-expired" || !v.TokenForm {
		t.Fatalf("after expiry: %+v (token form shown: %v)", r, v.TokenForm)
	}
	step("the expired token is refused", 10*time.Second, func(v pageView) bool { return v.State == "closed" })
	missed, err := e.Publish(Event{Topic: "user.42", Data: []byte("while away")})
	if err != nil {
		t.Fatal(err)
	}
	useToken(hsToken(t, time.Hour, claim, nil))
	v = step("a fresh token resumes the stream", 10*time.Second, func(v pageView) bool {
		evs := v.events()
		return v.State == "open" && len(evs) > 0 && evs[len(evs)-1].ID == missed[0]
	})
	if ids := e.lastEventIDs(); ids[len(ids)-1] != mine[len(mine)-1] {
		t.Fatalf("the fresh token's stream resumed from %q; want %q", ids[len(ids)-1], mine[len(mine)-1])
	}
	if got := e.metric(`ringcast_disconnects_total{reason="token-expired"}`); got != 1 {
		t.Fatalf("streams ended by expiry: %v; want 1", got)
	}

	// A page following all topics tells events apart by the topic in their
	// ids, whatever the topic holds; the id of an event on a topic with
	// '/', quotes and non-ASCII letters goes back byte for byte as
	// Last-Event-ID, and the resume is exact.
	d := startBrowserServer(t, "delta", Config{})
	dproxy := startCutProxy(t, d.addr)
	if err := page.Navigate(ctx, "http://"+dproxy.addr()+"/"); err != nil {
		t.Fatal(err)
	}
	step("the all-topics stream opens", 10*time.Second, func(v pageView) bool { return v.State == "open" && v.Epoch == "delta" })
	odd := `news/sports "ünï" €`
	type sent struct{ id, topic string }
	var all []sent
	for _, e := range []struct{ topic, data string }{{"demo", "d1"}, {odd, "n1"}, {"prices", "p1"}, {odd, "n2"}} {
		all = append(all, sent{post(d.addr, e.topic, e.data), e.topic})
	}
	check := func(what string, v pageView) {
		t.Helper()
		evs := v.events()
		if len(evs) != len(all) {
			t.Fatalf("%s: %d events; want %d:\n%s", what, len(evs), len(all), v)
		}
		for i, e := range evs {
			if e.ID != all[i].id || e.Topic != all[i].topic || e.ID != "delta-"+strconv.Itoa(i+1)+"/"+all[i].topic {
				t.Fatalf("%s: row %d is %+v; want id %s, topic %q:\n%s", what, i, e, all[i].id, all[i].topic, v)
			}
		}
	}
	check("several topics", step("four events appear", 10*time.Second, func(v pageView) bool { return len(v.Rows) >= len(all) }))
	dproxy.pause()
	dproxy.cutAll()
	step("the page notices the drop", 10*time.Second, func(v pageView) bool { return v.State == "reconnecting" })
	all = append(all, sent{post(d.addr, "prices", "p2"), "prices"}, sent{post(d.addr, odd, "n3"), odd})
	dproxy.resume()
	v = step("the missed events arrive", 10*time.Second, func(v pageView) bool { return len(v.Rows) >= len(all) && v.State == "open" })
	check("after the resume", v)

	// A named event the page does not listen for never reaches it; the page
	// counts it from the gap in the sequence and says why it is missing.
	for _, data := range []string{"p3", "p4"} {
		if _, err := d.Publish(Event{Topic: "prices", Event: "price", Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	shown := post(d.addr, "demo", "d2")
	v = step("the event after them arrives", 10*time.Second, func(v pageView) bool { return len(v.Rows) > len(all) })
	if evs := v.events(); len(evs) != len(all)+1 || evs[len(all)].ID != shown {
		t.Fatalf("after two named events the page shows:\n%s\nwant only %s more", v, shown)
	}
	if v.Hidden != "2" || !strings.HasPrefix(v.HiddenNote, "2 named events were not shown") || !strings.Contains(v.HiddenNote, "Event names") {
		t.Fatalf("two named events not listened for: the page says hidden %q, %q", v.Hidden, v.HiddenNote)
	}
	if got := d.lastEventIDs(); len(got) != 2 || got[0] != "" || got[1] != all[3].id {
		t.Fatalf("the server saw Last-Event-ID %q; want %q on the reconnection", got, all[3].id)
	}

	for _, l := range br.Logs() {
		if strings.HasPrefix(l, "exception:") {
			t.Errorf("the page threw: %s", l)
		}
	}
}

// pageViewJS reads what the page shows (its DOM), oldest row first.
const pageViewJS = `(() => {
	const $ = (id) => document.getElementById(id);
	return {
		state: $('state').dataset.state,
		lastId: $('last-id').textContent,
		epoch: $('epoch').textContent,
		publishEnabled: !$('publish-fields').disabled,
		tokenForm: !$('token-form').hidden,
		pubResult: $('pub-result').textContent,
		hidden: $('hidden-count').textContent,
		hiddenNote: $('hidden-note').hidden ? '' : $('hidden-note').textContent,
		rows: [...document.querySelectorAll('#events > li')].reverse().map((li) => ({
			kind: li.dataset.kind || 'event',
			id: li.dataset.id || '',
			topic: li.dataset.topic || '',
			type: li.dataset.type || '',
			data: li.querySelector('.data') ? li.querySelector('.data').textContent : li.textContent,
			age: li.querySelector('.age') ? li.querySelector('.age').textContent : '',
			reason: li.dataset.reason || '',
			skipped: li.dataset.skipped || '',
			lastEventId: li.dataset.lastEventId || '',
			missed: li.dataset.missed || '',
		})),
	};
})()`

type pageView struct {
	State          string
	LastID         string
	Epoch          string
	PublishEnabled bool
	TokenForm      bool
	PubResult      string
	Hidden         string // the count of named events not shown; "?" following chosen topics
	HiddenNote     string // the note explaining it, "" when hidden
	Rows           []pageRow
}

type pageRow struct {
	Kind, ID, Topic, Type, Data, Age string
	Reason, LastEventID, Missed      string
	Skipped                          string
}

func (v pageView) events() []pageRow {
	var out []pageRow
	for _, r := range v.Rows {
		if r.Kind == "event" {
			out = append(out, r)
		}
	}
	return out
}

// ids lists the rows: an event by its id, a notice as <kind>.
func (v pageView) ids() []string {
	var out []string
	for _, r := range v.Rows {
		if r.Kind == "event" {
			out = append(out, r.ID)
		} else {
			out = append(out, "<"+r.Kind+">")
		}
	}
	return out
}

func (v pageView) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  state %q, last id %q, epoch %q, publish enabled %v, result %q\n", v.State, v.LastID, v.Epoch, v.PublishEnabled, v.PubResult)
	for _, r := range v.Rows {
		fmt.Fprintf(&b, "  %+v\n", r)
	}
	return b.String()
}

// saveBrowserEvidence writes a screenshot into the test's temp dir (and
// into $RINGCAST_BROWSER_ARTIFACTS, which outlives the test, when set) and
// logs what the page logged and the browser's last words.
func saveBrowserEvidence(t *testing.T, page *headless.Page, br *headless.Browser, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	png, err := page.Screenshot(ctx)
	if err != nil {
		t.Logf("no screenshot: %v", err)
	} else {
		dirs := []string{dir}
		if keep := os.Getenv("RINGCAST_BROWSER_ARTIFACTS"); keep != "" {
			dirs = append(dirs, keep)
		}
		for _, d := range dirs {
			p := filepath.Join(d, t.Name()+".png")
			if err := os.WriteFile(p, png, 0o644); err != nil {
				t.Logf("screenshot: %v", err)
				continue
			}
			t.Logf("screenshot: %s", p)
		}
		if len(dirs) == 1 {
			t.Logf("(the temp dir goes when the test ends; set RINGCAST_BROWSER_ARTIFACTS=<dir> to keep the screenshot)")
		}
	}
	t.Logf("page console and exceptions:\n  %s", strings.Join(br.Logs(), "\n  "))
	t.Logf("chromium stderr (tail):\n%s", br.StderrTail(3000))
}

// browserServer is a server for the browser test that records the resume
// ids each subscription arrives with.
type browserServer struct {
	*Server
	addr string
	gate *gate // holds streams after a write while closed
	mu   sync.Mutex
	ids  []string // Last-Event-ID (or lastEventId) of each GET /events
}

func startBrowserServer(t *testing.T, epoch string, cfg Config) *browserServer {
	t.Helper()
	// Both rings small: a single-topic reader overrun on its topic ring carries on
	// from the global ring without loss, so the lag notice needs both overrun.
	cfg.Epoch, cfg.Retry, cfg.Logger = epoch, 200*time.Millisecond, testLogger()
	cfg.TopicCapacity, cfg.Capacity = 16, 16
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.fast.MaxIdleWorkerDuration = 50 * time.Millisecond // idle workers leave before goleak looks
	bs := &browserServer{Server: s, gate: newGate(s)}
	s.Use(func(next fasthttp.RequestHandler) fasthttp.RequestHandler {
		return func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) == "/events" {
				id := string(ctx.Request.Header.Peek("Last-Event-ID"))
				if id == "" {
					id = string(ctx.QueryArgs().Peek("lastEventId"))
				}
				bs.mu.Lock()
				bs.ids = append(bs.ids, id)
				bs.mu.Unlock()
			}
			next(ctx)
		}
	})
	bs.addr = servetest.Loopback(t, s)
	return bs
}

func (bs *browserServer) lastEventIDs() []string {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return append([]string(nil), bs.ids...)
}

func (bs *browserServer) metric(name string) float64 {
	var b strings.Builder
	bs.m.set.WritePrometheus(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

// cutProxy forwards TCP connections to a backend it can switch; paused, it
// holds new connections until resumed; cutAll closes those it is forwarding.
type cutProxy struct {
	ln      net.Listener
	wg      sync.WaitGroup
	done    chan struct{}
	mu      sync.Mutex
	backend string
	gate    chan struct{} // closed while not paused
	live    map[net.Conn]struct{}
	held    map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, backend string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, backend: backend, done: make(chan struct{}), gate: make(chan struct{}),
		live: map[net.Conn]struct{}{}, held: map[net.Conn]struct{}{}}
	close(p.gate)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *cutProxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	p.mu.Lock()
	gate := p.gate
	p.held[c] = struct{}{}
	p.mu.Unlock()
	select {
	case <-gate:
	case <-p.done:
	}
	p.mu.Lock()
	delete(p.held, c)
	backend := p.backend
	p.mu.Unlock()
	select {
	case <-p.done:
		return
	default:
	}
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	p.mu.Lock()
	p.live[c], p.live[b] = struct{}{}, struct{}{}
	p.mu.Unlock()
	ended := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(b, c); ended <- struct{}{} }()
	go func() { _, _ = io.Copy(c, b); ended <- struct{}{} }()
	<-ended // either side ending ends both: a dropped connection, as a browser sees it
	c.Close()
	b.Close()
	<-ended
	p.mu.Lock()
	delete(p.live, c)
	delete(p.live, b)
	p.mu.Unlock()
}

func (p *cutProxy) pause() {
	p.mu.Lock()
	p.gate = make(chan struct{})
	p.mu.Unlock()
}

func (p *cutProxy) resume() {
	p.mu.Lock()
	close(p.gate)
	p.mu.Unlock()
}

func (p *cutProxy) setBackend(addr string) {
	p.mu.Lock()
	p.backend = addr
	p.mu.Unlock()
}

// cutAll closes every connection being forwarded; held ones stay held.
func (p *cutProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.live {
		c.Close()
	}
}

func (p *cutProxy) close() {
	close(p.done)
	p.ln.Close()
	p.cutAll()
	p.wg.Wait()
}
