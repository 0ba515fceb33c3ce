//go:build unix

// Package headless drives a headless Chromium over the Chrome DevTools
// Protocol, for tests: start it, open a page, evaluate JavaScript, read what
// the page logged, take a screenshot. Standard library only.
//
// The protocol travels over a pipe (--remote-debugging-pipe): the browser
// reads NUL-terminated JSON messages on its descriptor 3 and writes its own
// on descriptor 4. So no debugging port is opened, nothing else on the
// machine can drive the browser, and no websocket client is needed.
//
// The browser is kept off every network but loopback: host names resolve to
// nothing except 127.0.0.1, and background services (updates, sync,
// metrics, safe browsing) are disabled.
//
// Invariants:
//   - One goroutine reads the pipe; it owns the dispatch of answers to the
//     calls waiting for them (by id) and ends when the pipe closes. Close
//     waits for it, so no goroutine outlives the Browser.
//   - The browser runs in a process group of its own, and Close kills the
//     group: no renderer or zygote outlives the test.
package headless

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Candidates are the executables Find looks for, in order, after the
// environment variable RINGCAST_CHROMIUM.
var Candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell"}

// Find returns the path of a Chromium executable: $RINGCAST_CHROMIUM, or
// the first of Candidates on $PATH. The error says where it looked.
func Find() (string, error) {
	if p := os.Getenv("RINGCAST_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("RINGCAST_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range Candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found: RINGCAST_CHROMIUM is unset and none of %s is on $PATH (Debian: apt-get install chromium)",
		strings.Join(Candidates, ", "))
}

// Browser is a running headless Chromium.
type Browser struct {
	cmd      *exec.Cmd
	toBr     *os.File // our end of the browser's descriptor 3
	fromBr   *os.File // our end of its descriptor 4
	stderr   string   // file the browser's stderr goes to
	readDone chan struct{}
	exited   chan struct{}

	wmu    sync.Mutex // one message on the pipe at a time
	mu     sync.Mutex
	nextID int64
	calls  map[int64]chan message
	logs   []string // console messages and exceptions, with the session
	err    error    // why the read loop ended
	closed bool
}

type message struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data"`
	} `json:"error,omitempty"`
}

// Start launches the browser at path with a fresh profile in dir (which
// must exist and is left to the caller to remove) and waits until it
// answers, or ctx ends.
func Start(ctx context.Context, path, dir string) (*Browser, error) {
	args := []string{
		"--headless=new",
		"--remote-debugging-pipe",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
		"--disable-gpu",
		"--disable-dev-shm-usage",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-default-apps",
		"--disable-extensions",
		"--disable-sync",
		"--disable-client-side-phishing-detection",
		"--disable-domain-reliability",
		"--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
		"--metrics-recording-only",
		"--no-pings",
		"--mute-audio",
		"--password-store=basic",
		"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
		"--window-size=1280,900",
		"about:blank",
	}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox") // Chromium refuses to run its sandbox as root
	}
	brIn, toBr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fromBr, brOut, err := os.Pipe()
	if err != nil {
		brIn.Close()
		toBr.Close()
		return nil, err
	}
	stderrPath := filepath.Join(dir, "chromium.stderr")
	stderr, err := os.Create(stderrPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.ExtraFiles = []*os.File{brIn, brOut} // descriptors 3 and 4
	cmd.Stdout = stderr
	cmd.Stderr = stderr // a file, so no copying goroutine waits on helper processes
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	brIn.Close()
	brOut.Close()
	stderr.Close()
	if err != nil {
		toBr.Close()
		fromBr.Close()
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	b := &Browser{
		cmd:      cmd,
		toBr:     toBr,
		fromBr:   fromBr,
		stderr:   stderrPath,
		readDone: make(chan struct{}),
		exited:   make(chan struct{}),
		calls:    map[int64]chan message{},
	}
	go func() { _ = cmd.Wait(); close(b.exited) }()
	go b.readLoop()
	var v struct{ Product string }
	if err := b.call(ctx, "", "Browser.getVersion", nil, &v); err != nil {
		b.Close()
		return nil, fmt.Errorf("%s did not answer: %w\n%s", path, err, b.StderrTail(2000))
	}
	return b, nil
}

func (b *Browser) readLoop() {
	defer close(b.readDone)
	r := bufio.NewReaderSize(b.fromBr, 1<<20)
	var err error
	for {
		var raw []byte
		raw, err = r.ReadBytes(0)
		if err != nil {
			break
		}
		var m message
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch := b.calls[m.ID]; ch != nil {
				delete(b.calls, m.ID)
				ch <- m // buffered
			}
		} else if line := describeEvent(m); line != "" {
			b.logs = append(b.logs, line)
		}
		b.mu.Unlock()
	}
	b.mu.Lock()
	b.err = fmt.Errorf("the browser closed the DevTools pipe: %w", err)
	for id, ch := range b.calls {
		delete(b.calls, id)
		close(ch)
	}
	b.mu.Unlock()
}

// describeEvent turns the events worth a test's attention into a log line.
func describeEvent(m message) string {
	switch m.Method {
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string
			Args []struct {
				Value       any
				Description string
			}
		}
		_ = json.Unmarshal(m.Params, &p)
		parts := []string{"console." + p.Type + ":"}
		for _, a := range p.Args {
			if a.Value != nil {
				parts = append(parts, fmt.Sprint(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		return strings.Join(parts, " ")
	case "Runtime.exceptionThrown":
		var p struct {
			ExceptionDetails struct {
				Text      string
				URL       string
				Line      int `json:"lineNumber"`
				Exception struct{ Description string }
			}
		}
		_ = json.Unmarshal(m.Params, &p)
		d := p.ExceptionDetails
		return fmt.Sprintf("exception: %s %s (%s:%d)", d.Text, d.Exception.Description, d.URL, d.Line+1)
	case "Log.entryAdded":
		var p struct {
			Entry struct{ Level, Source, Text, URL string }
		}
		_ = json.Unmarshal(m.Params, &p)
		return fmt.Sprintf("log.%s (%s): %s %s", p.Entry.Level, p.Entry.Source, p.Entry.Text, p.Entry.URL)
	}
	return ""
}

// call sends method with params to the browser (session "") or to a page's
// session, and decodes the result into result when not nil.
func (b *Browser) call(ctx context.Context, session, method string, params, result any) error {
	var rawParams json.RawMessage
	if params != nil {
		p, err := json.Marshal(params)
		if err != nil {
			return err
		}
		rawParams = p
	}
	ch := make(chan message, 1)
	b.mu.Lock()
	if b.err != nil || b.closed {
		err := b.err
		b.mu.Unlock()
		if err == nil {
			err = errors.New("headless: browser closed")
		}
		return err
	}
	b.nextID++
	id := b.nextID
	b.calls[id] = ch
	b.mu.Unlock()
	msg, err := json.Marshal(message{ID: id, Method: method, Params: rawParams, SessionID: session})
	if err != nil {
		return err
	}
	b.wmu.Lock()
	_, err = b.toBr.Write(append(msg, 0))
	b.wmu.Unlock()
	if err != nil {
		b.forget(id)
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			b.mu.Lock()
			err := b.err
			b.mu.Unlock()
			return fmt.Errorf("%s: %w", method, err)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d) %s", method, m.Error.Message, m.Error.Code, m.Error.Data)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-ctx.Done():
		b.forget(id)
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

func (b *Browser) forget(id int64) {
	b.mu.Lock()
	delete(b.calls, id)
	b.mu.Unlock()
}

// Logs returns what pages logged to the console and the exceptions they
// threw, in order.
func (b *Browser) Logs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.logs...)
}

// StderrTail returns the last n bytes the browser wrote to stderr.
func (b *Browser) StderrTail(n int) string {
	data, err := os.ReadFile(b.stderr)
	if err != nil {
		return ""
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

// Close asks the browser to quit, kills its process group if it has not
// within a few seconds, and waits for the pipe reader to end.
func (b *Browser) Close() {
	b.mu.Lock()
	already := b.closed
	b.mu.Unlock()
	if !already {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = b.call(ctx, "", "Browser.close", nil, nil)
		cancel()
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
	}
	select {
	case <-b.exited:
	case <-time.After(3 * time.Second):
	}
	// Helpers (zygote, renderers) may linger after the main process: end the group.
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	<-b.exited
	b.toBr.Close()
	b.fromBr.Close()
	<-b.readDone
}

// Page is one tab, attached in flat session mode.
type Page struct {
	b       *Browser
	session string
}

// NewPage opens a blank tab and enables the domains a test reads from.
func (b *Browser) NewPage(ctx context.Context) (*Page, error) {
	var t struct{ TargetID string }
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &t); err != nil {
		return nil, err
	}
	var a struct{ SessionID string }
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": t.TargetID, "flatten": true}, &a); err != nil {
		return nil, err
	}
	p := &Page{b: b, session: a.SessionID}
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		if err := b.call(ctx, p.session, m, nil, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Navigate loads url and waits until its document has loaded.
func (p *Page) Navigate(ctx context.Context, url string) error {
	var r struct{ ErrorText string }
	if err := p.b.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &r); err != nil {
		return err
	}
	if r.ErrorText != "" {
		return fmt.Errorf("navigating to %s: %s", url, r.ErrorText)
	}
	return p.WaitTrue(ctx, `document.readyState === "complete"`)
}

// Eval evaluates the JavaScript expression expr in the page (awaiting it if
// it is a promise) and decodes its JSON value into out when not nil.
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Type  string
			Value json.RawMessage
		}
		ExceptionDetails *struct {
			Text      string
			Exception struct{ Description string }
		}
	}
	err := p.b.call(ctx, p.session, "Runtime.evaluate", map[string]any{
		"expression": expr, "returnByValue": true, "awaitPromise": true,
	}, &r)
	if err != nil {
		return err
	}
	if d := r.ExceptionDetails; d != nil {
		return fmt.Errorf("evaluating %q: %s %s", expr, d.Text, d.Exception.Description)
	}
	if out != nil {
		if len(r.Result.Value) == 0 {
			return fmt.Errorf("evaluating %q: no value (a %s)", expr, r.Result.Type)
		}
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// WaitTrue evaluates the boolean expression expr until it is true, or ctx
// ends; the error then carries the last evaluation error, if any.
func (p *Page) WaitTrue(ctx context.Context, expr string) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		var ok bool
		if last = p.Eval(ctx, "!!("+expr+")", &ok); last == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last: %v)", expr, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
		case <-t.C:
		}
	}
}

// Screenshot returns a PNG of the page as it is now.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	var r struct{ Data string }
	if err := p.b.call(ctx, p.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}
