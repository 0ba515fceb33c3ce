package loadgen

// Parser invariants (the WHATWG "event stream interpretation", applied to bytes):
//
//   - A line ends at CRLF, LF or CR. A CR that ends one Feed call may be the
//     first half of a CRLF: skipLF remembers it, and a LF that opens the next
//     call is swallowed instead of ending an empty line.
//   - Bytes of a line that is not yet terminated are carried in line; every
//     terminated line is interpreted at once, straight from the caller's slice
//     when it did not span calls (no copy).
//   - data holds the data buffer exactly as the spec defines it: every data
//     field's value followed by LF. "No data lines" is len(data) == 0; an
//     empty data field leaves "\n", which dispatches an event whose data is "".
//   - idBuf is the last event ID buffer; it survives dispatch (the spec clears
//     only the data and event type buffers). lastID is the "last event ID
//     string", copied from idBuf at every dispatch, even one with no data.
//   - Nothing is dispatched without its blank line: at the end of a stream the
//     pending line and buffers are discarded (Reset), never delivered.
//   - Once warm, Feed allocates nothing: every buffer keeps its capacity.
//   - The fast path (fastEvent) takes a whole event of the shape servers
//     send most ("id: ", an optional "event: ", one "data: " line, a blank
//     line, all LF-terminated) straight from the caller's slice, and only
//     when nothing is pending (no partial line, no buffered field): it
//     yields exactly what the line-by-line path would. Its id stays in the
//     caller's slice (pendingID) until the run of such events ends, and is
//     copied into idBuf and lastID then, before anything else reads them.
//
// The parser works on bytes and does not apply UTF-8 replacement: CR, LF, ':'
// and ' ' cannot occur inside a multi-byte UTF-8 sequence, so the structure is
// the same, and the caller decides whether a payload must be valid UTF-8.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"time"
)

// DefaultMaxEventBytes bounds one line and one event's data buffer unless
// Parser.MaxEventBytes says otherwise.
const DefaultMaxEventBytes = 1 << 20

// ErrEventTooLarge is returned by Feed when a line or an event's data grows past
// MaxEventBytes: a hostile or broken server must not make the client buffer
// without bound.
var ErrEventTooLarge = errors.New("sse: line or event data exceeds the size limit")

var messageType = []byte("message")

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Event is one dispatched server-sent event. Its slices belong to the Parser and
// are valid only until the handler returns; copy what must outlive the call.
type Event struct {
	// Type is the event type: the last "event:" field, or "message".
	Type []byte
	// Data is the data buffer with its final LF removed: several data lines
	// are joined with LF.
	Data []byte
	// ID is the last event ID string at dispatch: the last "id:" field seen on
	// this stream (or carried over from the previous connection), possibly empty.
	ID []byte
}

// Parser decodes a text/event-stream incrementally. Feed it the body's bytes in
// whatever pieces they arrive; it calls the handler once per dispatched event.
// The zero value is not usable: create it with NewParser.
type Parser struct {
	// MaxEventBytes bounds a single line and one event's data buffer
	// (DefaultMaxEventBytes when zero).
	MaxEventBytes int

	handler func(*Event)
	ev      Event

	line   []byte
	data   []byte
	evType []byte
	idBuf  []byte
	lastID []byte
	// pendingID is the last event ID of a run of fast-path events, still
	// in the caller's slice; nil when idBuf and lastID are current.
	pendingID []byte
	// lineByLine turns the fast path off (tests and benchmarks compare).
	lineByLine bool

	bom     [3]byte
	bomLen  int
	started bool
	skipLF  bool

	retryMs  int64
	retrySet bool
	comments uint64
	ignored  uint64
}

// NewParser returns a parser that calls handler for every dispatched event.
func NewParser(handler func(*Event)) *Parser {
	return &Parser{handler: handler}
}

// Retry returns the reconnection time the stream asked for with "retry:", and
// whether it did.
func (p *Parser) Retry() (time.Duration, bool) {
	return time.Duration(p.retryMs) * time.Millisecond, p.retrySet
}

// LastEventID returns the last event ID string: what a client sends as
// Last-Event-ID when it reconnects. The slice is the parser's; copy it to keep it.
func (p *Parser) LastEventID() []byte { return p.lastID }

// SetLastEventID sets the last event ID string and buffer, as a client that
// resumes a stream it read earlier would.
func (p *Parser) SetLastEventID(id []byte) {
	p.lastID = append(p.lastID[:0], id...)
	p.idBuf = append(p.idBuf[:0], id...)
}

// Comments returns how many comment lines (":" ...) were seen, keep-alives included.
func (p *Parser) Comments() uint64 { return p.comments }

// IgnoredFields returns how many lines named a field the spec does not know
// (or a "retry:" that was not all digits): ignored, as the spec requires, but counted.
func (p *Parser) IgnoredFields() uint64 { return p.ignored }

// Reset prepares the parser for a new stream (a reconnect): the partial line,
// the data and event type buffers and the BOM check start over. The last event
// ID is kept, so the next connection resumes from it and an event there without
// an id still reports it (Chromium's behaviour).
func (p *Parser) Reset() {
	p.line = p.line[:0]
	p.data = p.data[:0]
	p.evType = p.evType[:0]
	p.idBuf = append(p.idBuf[:0], p.lastID...)
	p.bomLen = 0
	p.started = false
	p.skipLF = false
}

// ReadFrom feeds the parser from r until EOF (returned as nil) or an error.
func (p *Parser) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 16<<10)
	var total int64
	for {
		n, err := r.Read(buf)
		total += int64(n)
		if n > 0 {
			if ferr := p.Feed(buf[:n]); ferr != nil {
				return total, ferr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (p *Parser) limit() int {
	if p.MaxEventBytes > 0 {
		return p.MaxEventBytes
	}
	return DefaultMaxEventBytes
}

// Feed interprets the next bytes of the stream. After an error the stream is
// unusable; Reset before feeding a new one.
func (p *Parser) Feed(b []byte) error {
	if !p.started {
		// A leading U+FEFF is dropped once per stream; it may arrive split.
		for len(b) > 0 && p.bomLen < 3 {
			p.bom[p.bomLen] = b[0]
			p.bomLen++
			b = b[1:]
			if !bytes.HasPrefix(utf8BOM, p.bom[:p.bomLen]) {
				break
			}
		}
		if bytes.HasPrefix(utf8BOM, p.bom[:p.bomLen]) && p.bomLen < 3 {
			return nil // could still be a BOM: wait for more
		}
		p.started = true
		if p.bomLen < 3 || !bytes.Equal(p.bom[:], utf8BOM) {
			if err := p.feed(p.bom[:p.bomLen]); err != nil {
				return err
			}
		}
	}
	return p.feed(b)
}

func (p *Parser) feed(b []byte) error {
	// cr is the index in b of its first CR, or -1 when it has none: b is
	// scanned for CR once, and again only after a CR is passed, so a stream
	// without CR (the usual one) costs one IndexByte per line, not two.
	cr := bytes.IndexByte(b, '\r')
	defer p.settleID()
	for len(b) > 0 {
		if cr < 0 && !p.skipLF && len(p.line) == 0 && len(p.data) == 0 && len(p.evType) == 0 && !p.lineByLine {
			if n := p.fastEvent(b); n > 0 {
				b = b[n:]
				continue
			}
			p.settleID()
		}
		if p.skipLF {
			p.skipLF = false
			if b[0] == '\n' {
				b = b[1:]
				if cr > 0 {
					cr-- // b[0] was LF, so the CR lies further on
				}
				continue
			}
		}
		i := bytes.IndexByte(b, '\n')
		if cr >= 0 && (i < 0 || cr < i) {
			i = cr
		}
		if i < 0 {
			if len(p.line)+len(b) > p.limit() {
				return ErrEventTooLarge
			}
			p.line = append(p.line, b...)
			return nil
		}
		line := b[:i]
		if len(p.line) > 0 {
			if len(p.line)+i > p.limit() {
				return ErrEventTooLarge
			}
			p.line = append(p.line, line...)
			line = p.line
		} else if i > p.limit() {
			return ErrEventTooLarge
		}
		if b[i] == '\r' {
			if i+1 < len(b) {
				if b[i+1] == '\n' {
					i++
				}
			} else {
				p.skipLF = true
			}
		}
		b = b[i+1:]
		if cr >= 0 {
			if cr -= i + 1; cr < 0 {
				cr = bytes.IndexByte(b, '\r')
			}
		}
		err := p.processLine(line)
		p.line = p.line[:0]
		if err != nil {
			return err
		}
	}
	return nil
}

// The fast path's field prefixes, compared a word at a time (little endian).
const (
	idPrefix    = "id: "
	eventPrefix = "event: "
	dataPrefix  = "data: "
	idWord      = uint32('i') | uint32('d')<<8 | uint32(':')<<16 | uint32(' ')<<24
	dataWord    = uint32('d') | uint32('a')<<8 | uint32('t')<<16 | uint32('a')<<24
	colonSpace  = uint16(':') | uint16(' ')<<8
	eventWord   = uint32('e') | uint32('v')<<8 | uint32('e')<<16 | uint32('n')<<24
	tColonSpace = uint32('t') | uint32(':')<<8 | uint32(' ')<<16
)

// fastEvent dispatches the event that b starts with and returns its length,
// when it has the common shape (see the invariants) and fits the limits;
// otherwise it returns 0 and changes nothing. b holds no CR.
func (p *Parser) fastEvent(b []byte) int {
	if len(b) < len(idPrefix) || binary.LittleEndian.Uint32(b) != idWord {
		return 0
	}
	limit := p.limit()
	i := bytes.IndexByte(b, '\n')
	if i < 0 || i > limit {
		return 0
	}
	id := b[len(idPrefix):i]
	rest := b[i+1:]
	var evType []byte
	if len(rest) >= len(eventPrefix) && binary.LittleEndian.Uint32(rest) == eventWord &&
		binary.LittleEndian.Uint32(rest[3:])>>8 == tColonSpace {
		j := bytes.IndexByte(rest, '\n')
		if j < 0 || j > limit {
			return 0
		}
		evType = rest[len(eventPrefix):j]
		rest = rest[j+1:]
	}
	if len(rest) < len(dataPrefix) || binary.LittleEndian.Uint32(rest) != dataWord ||
		binary.LittleEndian.Uint16(rest[4:]) != colonSpace {
		return 0
	}
	j := bytes.IndexByte(rest, '\n')
	// The data line, its LF in the data buffer, and the blank line.
	if j < 0 || j > limit || j+1-len(dataPrefix) > limit || j+1 >= len(rest) || rest[j+1] != '\n' {
		return 0
	}
	if bytes.IndexByte(id, 0) >= 0 {
		return 0 // the spec ignores such an id: the slow path knows how
	}
	p.pendingID = id
	p.ev.ID = id
	p.ev.Data = rest[len(dataPrefix):j]
	p.ev.Type = evType
	if len(evType) == 0 {
		p.ev.Type = messageType
	}
	p.handler(&p.ev)
	p.ev = Event{}
	return len(b) - len(rest) + j + 2
}

// settleID copies a fast-path run's last event ID into the parser's buffers.
func (p *Parser) settleID() {
	if p.pendingID == nil {
		return
	}
	p.idBuf = append(p.idBuf[:0], p.pendingID...)
	if !bytes.Equal(p.lastID, p.idBuf) {
		p.lastID = append(p.lastID[:0], p.idBuf...)
	}
	p.pendingID = nil
}

func (p *Parser) processLine(line []byte) error {
	if len(line) == 0 {
		p.dispatch()
		return nil
	}
	if line[0] == ':' {
		p.comments++
		return nil
	}
	field, value := line, []byte(nil)
	if c := bytes.IndexByte(line, ':'); c >= 0 {
		field, value = line[:c], line[c+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "event":
		p.evType = append(p.evType[:0], value...)
	case "data":
		if len(p.data)+len(value)+1 > p.limit() {
			return ErrEventTooLarge
		}
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.idBuf = append(p.idBuf[:0], value...)
		}
	case "retry":
		ms, ok := parseDigits(value)
		if !ok {
			p.ignored++
			return nil
		}
		p.retryMs, p.retrySet = ms, true
	default:
		p.ignored++
	}
	return nil
}

// parseDigits reads a non-empty run of ASCII digits as milliseconds, saturating
// where a time.Duration would overflow.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	const maxMs = math.MaxInt64 / int64(time.Millisecond)
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (maxMs-int64(c-'0'))/10 {
			v = maxMs
			continue
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

func (p *Parser) dispatch() {
	if !bytes.Equal(p.lastID, p.idBuf) {
		p.lastID = append(p.lastID[:0], p.idBuf...)
	}
	if len(p.data) == 0 {
		p.evType = p.evType[:0]
		return
	}
	p.ev.Data = p.data[:len(p.data)-1]
	p.ev.Type = p.evType
	if len(p.evType) == 0 {
		p.ev.Type = messageType
	}
	p.ev.ID = p.lastID
	p.handler(&p.ev)
	p.data = p.data[:0]
	p.evType = p.evType[:0]
	p.ev = Event{}
}
