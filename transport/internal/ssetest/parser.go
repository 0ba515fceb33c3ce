// Package ssetest is a reference event-stream parser for tests: it follows
// the WHATWG HTML standard's "event stream interpretation" step by step, so a
// test can check that what the server writes is what a browser's EventSource
// would see. It is deliberately literal rather than fast.
package ssetest

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Event is one dispatched event, as EventSource would report it.
type Event struct {
	LastEventID string // the last event ID string at dispatch time
	Type        string // "message" when the stream named none
	Data        string
}

// Parser consumes an event stream incrementally.
type Parser struct {
	pending   []byte // bytes of an unfinished line
	started   bool   // the BOM check has run
	sawCR     bool   // the previous chunk ended with CR: a following LF is part of it
	data      strings.Builder
	eventType string
	lastID    string
	// Retry is the last valid retry value seen, -1 if none.
	Retry int64
	// Comments holds every comment line's text (after the colon), in order.
	Comments []string
}

// NewParser returns a parser with no retry seen.
func NewParser() *Parser { return &Parser{Retry: -1} }

// Feed parses b and returns the events it completed.
func (p *Parser) Feed(b []byte) []Event {
	if !p.started {
		p.pending = append(p.pending, b...)
		if len(p.pending) < 3 && bytes.HasPrefix([]byte("\xEF\xBB\xBF"), p.pending) {
			return nil // maybe a BOM, wait for more
		}
		p.started = true
		b = bytes.TrimPrefix(p.pending, []byte("\xEF\xBB\xBF"))
		p.pending = nil
	}
	var out []Event
	for len(b) > 0 {
		if p.sawCR {
			p.sawCR = false
			if b[0] == '\n' {
				b = b[1:]
				continue
			}
		}
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			p.pending = append(p.pending, b...)
			break
		}
		line := b[:i]
		if len(p.pending) > 0 {
			line = append(p.pending, line...)
			p.pending = nil
		}
		if b[i] == '\r' {
			if i+1 < len(b) {
				if b[i+1] == '\n' {
					i++
				}
			} else {
				p.sawCR = true
			}
		}
		b = b[i+1:]
		if ev, ok := p.line(decode(line)); ok {
			out = append(out, ev)
		}
	}
	return out
}

// LastEventID is the ID a reconnecting EventSource would send.
func (p *Parser) LastEventID() string { return p.lastID }

// decode turns bytes into text the way a UTF-8 decoder with replacement does.
func decode(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func (p *Parser) line(line string) (Event, bool) {
	if line == "" {
		return p.dispatch()
	}
	if line[0] == ':' {
		p.Comments = append(p.Comments, line[1:])
		return Event{}, false
	}
	field, value := line, ""
	if i := strings.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		value = strings.TrimPrefix(value, " ")
	}
	switch field {
	case "event":
		p.eventType = value
	case "data":
		p.data.WriteString(value)
		p.data.WriteByte('\n')
	case "id":
		if !strings.ContainsRune(value, 0) {
			p.lastID = value
		}
	case "retry":
		if value != "" && strings.Trim(value, "0123456789") == "" {
			if n, err := strconv.ParseInt(value, 10, 64); err == nil {
				p.Retry = n
			}
		}
	}
	return Event{}, false
}

func (p *Parser) dispatch() (Event, bool) {
	data := p.data.String()
	p.data.Reset()
	typ := p.eventType
	p.eventType = ""
	if data == "" {
		return Event{}, false
	}
	data = strings.TrimSuffix(data, "\n")
	if typ == "" {
		typ = "message"
	}
	return Event{LastEventID: p.lastID, Type: typ, Data: data}, true
}

// Parse parses a whole stream at once.
func Parse(b []byte) ([]Event, *Parser) {
	p := NewParser()
	return p.Feed(b), p
}
