package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Message is one event to publish. Data is valid only during the Publish call.
type Message struct {
	Topic string
	Event string
	Key   string
	Data  []byte
	// Seq is the message's sequence within its topic (for templates).
	Seq uint64
}

// Publisher delivers a batch of events to the server under test, in order. It
// returns only when the server has accepted or refused the batch; an error
// means none of it counts as published.
type Publisher interface {
	Publish(ctx context.Context, batch []Message) error
}

// PublisherFunc adapts a function (an in-process server's publish call, say) to
// Publisher.
type PublisherFunc func(ctx context.Context, batch []Message) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, batch []Message) error { return f(ctx, batch) }

// HTTPPublisher posts events to a ringcast-style publish endpoint: one JSON
// object {"topic","event","data","key"} per request, or a whole batch as
// application/x-ndjson. Data is sent as a JSON string. A 2xx answer whose body
// carries {"ids":[...]} must name as many ids as events were sent.
type HTTPPublisher struct {
	URL string
	// NDJSON sends each batch as one application/x-ndjson request; otherwise
	// every event is its own application/json request.
	NDJSON bool
	Client *http.Client
	// Header is added to every request (an Authorization token, say).
	Header http.Header

	body bytes.Buffer
}

func (p *HTTPPublisher) client() *http.Client {
	if p.Client != nil {
		return p.Client
	}
	return http.DefaultClient
}

// Publish implements Publisher.
func (p *HTTPPublisher) Publish(ctx context.Context, batch []Message) error {
	if p.NDJSON {
		p.body.Reset()
		for i := range batch {
			appendMessageJSON(&p.body, &batch[i])
			p.body.WriteByte('\n')
		}
		return p.post(ctx, "application/x-ndjson", p.body.Bytes(), len(batch))
	}
	for i := range batch {
		p.body.Reset()
		appendMessageJSON(&p.body, &batch[i])
		if err := p.post(ctx, "application/json", p.body.Bytes(), 1); err != nil {
			return err
		}
	}
	return nil
}

func appendMessageJSON(b *bytes.Buffer, m *Message) {
	b.WriteString(`{"topic":`)
	writeJSONString(b, m.Topic)
	if m.Event != "" {
		b.WriteString(`,"event":`)
		writeJSONString(b, m.Event)
	}
	if m.Key != "" {
		b.WriteString(`,"key":`)
		writeJSONString(b, m.Key)
	}
	b.WriteString(`,"data":`)
	writeJSONBytes(b, m.Data)
	b.WriteByte('}')
}

// writeJSONBytes writes s as a JSON string; the payload is plain ASCII, so
// the common case copies it as is.
func writeJSONBytes(b *bytes.Buffer, s []byte) {
	plain := true
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			plain = false
			break
		}
	}
	if plain {
		b.WriteByte('"')
		b.Write(s)
		b.WriteByte('"')
		return
	}
	q, _ := json.Marshal(string(s))
	b.Write(q)
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s)
	b.Write(q)
}

func (p *HTTPPublisher) post(ctx context.Context, ctype string, body []byte, n int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	for k, v := range p.Header {
		req.Header[k] = v
	}
	resp, err := p.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("publish: HTTP %d: %s", resp.StatusCode, snippet(rb))
	}
	var ack struct {
		IDs []json.RawMessage `json:"ids"`
	}
	if json.Unmarshal(rb, &ack) == nil && ack.IDs != nil && len(ack.IDs) != n {
		return fmt.Errorf("publish: sent %d events, server acknowledged %d ids", n, len(ack.IDs))
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Placeholders understood by the body and command templates.
const templateHelp = "{topic}, {event}, {key}, {seq} and {data} (the payload: plain ASCII, no quotes needed in JSON)"

func expandTemplate(tmpl string, m *Message) string {
	r := strings.NewReplacer(
		"{topic}", m.Topic,
		"{event}", m.Event,
		"{key}", m.Key,
		"{seq}", strconv.FormatUint(m.Seq, 10),
		"{data}", string(m.Data),
	)
	return r.Replace(tmpl)
}

// TemplatePublisher POSTs one request per event whose body is Template with
// its placeholders filled in: for servers with their own publish API.
type TemplatePublisher struct {
	URL         string
	ContentType string
	Template    string
	Client      *http.Client
}

// Publish implements Publisher.
func (p *TemplatePublisher) Publish(ctx context.Context, batch []Message) error {
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	for i := range batch {
		body := expandTemplate(p.Template, &batch[i])
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, strings.NewReader(body))
		if err != nil {
			return err
		}
		if p.ContentType != "" {
			req.Header.Set("Content-Type", p.ContentType)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("publish: HTTP %d: %s", resp.StatusCode, snippet(rb))
		}
	}
	return nil
}

// CommandPublisher runs a command once per event: Argv's placeholders are
// filled in per event (no shell is involved; name "sh", "-c", ... to get one).
// Slow (a process per event) but it reaches any server that has a CLI.
type CommandPublisher struct {
	Argv    []string
	Timeout time.Duration
}

// Publish implements Publisher.
func (p *CommandPublisher) Publish(ctx context.Context, batch []Message) error {
	if len(p.Argv) == 0 {
		return errors.New("publish command is empty")
	}
	for i := range batch {
		args := make([]string, len(p.Argv))
		for j, a := range p.Argv {
			args[j] = expandTemplate(a, &batch[i])
		}
		if err := p.run(ctx, args); err != nil {
			return err
		}
	}
	return nil
}

func (p *CommandPublisher) run(ctx context.Context, args []string) error {
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("publish command %s: %v: %s", args[0], err, snippet(out))
	}
	return nil
}

// SplitCommand splits a command template into words the way a shell would for
// plain words, single quotes and double quotes (with \" and \\ inside double
// quotes); it expands nothing.
func SplitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// roundRobin posts each batch to the next of several publishers (the nodes
// of a cluster), one at a time: a topic's events reach the cluster in order.
type roundRobin struct {
	pubs []Publisher
	next atomic.Uint64
}

func (rr *roundRobin) Publish(ctx context.Context, batch []Message) error {
	return rr.pubs[(rr.next.Add(1)-1)%uint64(len(rr.pubs))].Publish(ctx, batch)
}
