// Package ssespec is the reference interpretation of an event stream for
// tests: the WHATWG HTML standard's "event stream interpretation"
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation),
// transcribed step by step, so that a test can check what a server writes
// against what a browser's EventSource sees, and a fast client parser
// against the standard. It is deliberately literal rather than fast.
//
// What it follows, all from the standard:
//   - The stream is decoded as UTF-8, which drops one leading BOM and turns
//     each maximal ill-formed byte sequence into one U+FFFD (Decode).
//   - Lines end at CRLF, LF or CR; a CR ending one Feed and a LF opening the
//     next are one line end. A last line without its line end is never
//     interpreted, so an event without its blank line is never dispatched.
//   - "data" appends its value and a LF to the data buffer; dispatch removes
//     one trailing LF and dispatches nothing when the buffer is empty.
//     "event" sets the type ("message" when empty at dispatch). "id" sets
//     the last event ID buffer unless the value holds NUL; the last event
//     ID string (what a reconnection sends) takes the buffer's value at every
//     dispatch, even one with no data, and only then. "retry" counts only
//     when its value is all ASCII digits. One space after the colon is
//     stripped; other fields and comments are ignored.
package ssespec

import (
	"bytes"
	"math"
	"strings"
	"unicode/utf8"
)

// Event is one dispatched event, as EventSource reports it.
type Event struct {
	Type        string // "message" when the stream named none
	Data        string
	LastEventID string // the last event ID string at dispatch: the event's lastEventId
}

// Parser interprets a stream fed to it in pieces. The zero value is a
// parser at the start of a stream.
type Parser struct {
	// KeepBytes skips the UTF-8 decode (a leading BOM still goes): the
	// strings hold the stream's own bytes, invalid ones included, as a
	// client that works on bytes would see them. Decoding them gives what
	// the decoding parser gives: the decoder never merges CR, LF, ':', ' '
	// or NUL into a replaced sequence, so the lines and fields are the same.
	KeepBytes bool

	pending []byte // an unfinished line, or the first bytes while the BOM is undecided
	started bool   // the BOM check has run
	sawCR   bool   // the last line ended with a CR: a LF next is part of its line end

	data      strings.Builder
	eventType string
	idBuf     string // the last event ID buffer
	lastID    string // the last event ID string
	retryMs   int64
	retrySet  bool
}

var bom = []byte("\xEF\xBB\xBF")

// Feed interprets b, the next bytes of the stream, and returns the events it
// completed. It keeps no reference to b.
func (p *Parser) Feed(b []byte) []Event {
	if !p.started {
		p.pending = append(p.pending, b...)
		if len(p.pending) < len(bom) && bytes.HasPrefix(bom, p.pending) {
			return nil // maybe a BOM: wait for more
		}
		p.started = true
		b = bytes.TrimPrefix(p.pending, bom)
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
		line := append(p.pending, b[:i]...)
		p.pending = nil
		if b[i] == '\r' {
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			} else if i+1 == len(b) {
				p.sawCR = true
			}
		}
		b = b[i+1:]
		text := string(line)
		if !p.KeepBytes {
			text = Decode(line)
		}
		if ev, ok := p.line(text); ok {
			out = append(out, ev)
		}
	}
	return out
}

// LastEventID returns the last event ID string: what a reconnecting
// EventSource sends as Last-Event-ID.
func (p *Parser) LastEventID() string { return p.lastID }

// Retry returns the last reconnection time the stream set, in milliseconds
// (math.MaxInt64 for any larger value), and whether it set one.
func (p *Parser) Retry() (ms int64, ok bool) { return p.retryMs, p.retrySet }

// Parse interprets a whole stream. The parser holds what outlives the
// events: the last event ID and the reconnection time.
func Parse(stream []byte) ([]Event, *Parser) {
	p := new(Parser)
	return p.Feed(stream), p
}

func (p *Parser) line(line string) (Event, bool) {
	if line == "" {
		return p.dispatch()
	}
	if line[0] == ':' {
		return Event{}, false
	}
	field, value, found := strings.Cut(line, ":")
	if found {
		value = strings.TrimPrefix(value, " ")
	}
	switch field {
	case "event":
		p.eventType = value
	case "data":
		p.data.WriteString(value)
		p.data.WriteByte('\n')
	case "id":
		if !strings.Contains(value, "\x00") {
			p.idBuf = value
		}
	case "retry":
		if ms, ok := digits(value); ok {
			p.retryMs, p.retrySet = ms, true
		}
	}
	return Event{}, false
}

// digits reads a value of ASCII digits only, at least one, in base ten. The
// standard sets the reconnection time to whatever integer it is, so a value
// past int64 saturates rather than being ignored.
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			v = math.MaxInt64
			continue
		}
		v = v*10 + d
	}
	return v, true
}

func (p *Parser) dispatch() (Event, bool) {
	p.lastID = p.idBuf
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
	return Event{Type: typ, Data: data, LastEventID: p.lastID}, true
}

// Decode is the Encoding standard's UTF-8 decoder after its BOM step: each
// maximal ill-formed subsequence becomes one U+FFFD. Go's own conversions
// differ on invalid input (strings.ToValidUTF8 replaces a whole run with one
// U+FFFD, ranging over a string gives one per byte), and so would a test
// that used them.
func Decode(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	var cp rune
	needed, seen := 0, 0
	lower, upper := byte(0x80), byte(0xBF)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if needed == 0 {
			switch {
			case c <= 0x7F:
				sb.WriteByte(c)
			case 0xC2 <= c && c <= 0xDF:
				needed, cp = 1, rune(c&0x1F)
			case 0xE0 <= c && c <= 0xEF:
				if c == 0xE0 {
					lower = 0xA0 // shorter forms are overlong
				} else if c == 0xED {
					upper = 0x9F // surrogates
				}
				needed, cp = 2, rune(c&0x0F)
			case 0xF0 <= c && c <= 0xF4:
				if c == 0xF0 {
					lower = 0x90 // overlong
				} else if c == 0xF4 {
					upper = 0x8F // past U+10FFFF
				}
				needed, cp = 3, rune(c&0x07)
			default:
				sb.WriteRune(utf8.RuneError)
			}
			continue
		}
		if c < lower || c > upper {
			needed, seen, cp = 0, 0, 0
			lower, upper = 0x80, 0xBF
			sb.WriteRune(utf8.RuneError)
			i-- // the standard puts the byte back: it may start the next sequence
			continue
		}
		lower, upper = 0x80, 0xBF
		cp = cp<<6 | rune(c&0x3F)
		if seen++; seen == needed {
			sb.WriteRune(cp)
			needed, seen, cp = 0, 0, 0
		}
	}
	if needed != 0 {
		sb.WriteRune(utf8.RuneError) // the stream ended inside a sequence
	}
	return sb.String()
}
