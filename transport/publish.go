package transport

// The publish path, in the order an event travels it: POST /publish
// (handlePublish) checks the method and the publish token, parses the body
// (parsePublish, parseEvent, validate) and hands the events to the Go API,
// Publish; Publish validates them, encodes each into a frame once
// (encodeFrame, frame.go) and publishes the batch to the engine at once
// (publishNow) or, for keyed events with Debounce, through the debouncer
// (publishDebounced, debounce.go). The engine stamps the ids and wakes the
// streams (ringengine.go, chanengine.go; stream.go writes to the sockets).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/ringcast/ringcast/transport/internal/eventid"
	"github.com/ringcast/ringcast/transport/internal/sse"
)

// handlePublish is POST /publish.
func (s *Server) handlePublish(ctx *fasthttp.RequestCtx) {
	s.setCORS(ctx)
	if ctx.IsOptions() {
		ctx.Response.Header.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		ctx.Response.Header.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, Idempotency-Key")
		ctx.Response.Header.Set("Access-Control-Max-Age", "600")
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	if !ctx.IsPost() {
		s.m.rejected[rejMethod].Inc()
		ctx.Response.Header.Set("Allow", "POST, OPTIONS")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "publish with POST")
		return
	}
	gr, te := s.guard.publisher(ctx)
	if te != nil {
		s.unauthorizedPublish(ctx, te)
		return
	}
	format := 0
	if mt, _, err := mime.ParseMediaType(string(ctx.Request.Header.ContentType())); err == nil {
		switch mt {
		case "application/json":
			format = formatJSON
		case "application/x-ndjson", "application/ndjson":
			format = formatNDJSON
		}
	}
	if format == 0 {
		s.m.rejected[rejContentType].Inc()
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, "Content-Type must be application/json (one event) or application/x-ndjson (one event per line)")
		return
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	if be := s.readBody(ctx, buf); be != nil { // only now: authorised (body.go, B1)
		if be.status == fasthttp.StatusRequestEntityTooLarge {
			s.m.rejected[rejTooLarge].Inc()
		} else {
			s.m.rejected[rejBadRequest].Inc()
		}
		ctx.SetConnectionClose() // the rest of the body may still be on the wire
		writeError(ctx, be.status, be.msg)
		return
	}
	evs, pe := parsePublish(buf.Bytes(), format, s.cfg.MaxEventBytes, s.Epoch())
	if pe != nil {
		if pe.status == fasthttp.StatusRequestEntityTooLarge {
			s.m.rejected[rejTooLarge].Inc()
		} else {
			s.m.rejected[rejBadRequest].Inc()
		}
		writeError(ctx, pe.status, pe.msg)
		return
	}
	if msg := forbiddenEvent(gr, evs, buf.Bytes(), format); msg != "" {
		s.m.rejected[rejForbidden].Inc()
		s.guard.refuseTopic(ctx, opPublish, msg)
		return
	}
	key, ok := idempotencyKey(ctx) // cluster mode (cluster.go)
	if !ok {
		s.m.rejected[rejBadRequest].Inc()
		writeError(ctx, fasthttp.StatusBadRequest, "Idempotency-Key must be 1 to 128 visible ASCII characters")
		return
	}
	ids, err := s.publishKeyed(key, evs)
	if err != nil {
		var ve *ValidationError
		switch {
		case errors.Is(err, ErrEventTooLarge): // parsePublish refuses these first, naming the line
			s.m.rejected[rejTooLarge].Inc()
			writeError(ctx, fasthttp.StatusRequestEntityTooLarge, err.Error())
		case errors.As(err, &ve):
			s.m.rejected[rejBadRequest].Inc()
			writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		case errors.Is(err, ErrBatchTooLarge): // cluster mode (cluster.go)
			s.m.rejected[rejTooLarge].Inc()
			writeError(ctx, fasthttp.StatusRequestEntityTooLarge, err.Error())
		default:
			s.m.rejected[rejUnavailable].Inc()
			ctx.Response.Header.Set("Retry-After", "1")
			writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
		}
		return
	}
	b := make([]byte, 0, 10+len(ids)*24)
	b = append(b, `{"ids":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, id, len(id)) // the topic in the id may hold '"' or '\\'
	}
	b = append(b, "]}\n"...)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// unauthorizedPublish answers a publish whose credential guard.publisher
// refused (te).
func (s *Server) unauthorizedPublish(ctx *fasthttp.RequestCtx, te *tokenError) {
	s.m.rejected[rejUnauthorized].Inc()
	s.guard.refuseToken(ctx, opPublish, te)
}

// Publish publishes evs as one batch and returns their ids, in order. The
// batch is all or nothing: an invalid event (see Event) rejects it whole with
// a *ValidationError naming the event. With Debounce set, a keyed event
// returns once its window closes (see the debouncer's notes).
func (s *Server) Publish(evs ...Event) ([]string, error) { return s.publishKeyed("", evs) }

// publishKeyed is Publish with an idempotency key, which only cluster mode
// uses (see PublishIdempotent).
func (s *Server) publishKeyed(key string, evs []Event) ([]string, error) {
	if len(evs) == 0 {
		return nil, ErrNoEvents
	}
	for i := range evs {
		ve := validate(&evs[i])
		if ve == nil {
			ve = s.checkWireLen(&evs[i])
		}
		if ve != nil {
			ve.Index = i
			return nil, ve
		}
	}
	s.pubMu.RLock()
	defer s.pubMu.RUnlock()
	if s.closing.Load() {
		return nil, ErrClosed
	}
	if s.cluster != nil { // cluster mode (cluster.go): the log stamps the ids
		return s.cluster.publish(key, evs)
	}
	start := time.Now()
	frames := make([]*frame, len(evs))
	for i := range evs {
		frames[i] = encodeFrame(&evs[i])
	}
	var seqs []uint64
	var err error
	if s.deb == nil {
		seqs, err = s.publishNow(frames)
	} else {
		seqs, err = s.publishDebounced(frames)
	}
	if err != nil {
		if errors.Is(err, errEngineClosed) {
			err = ErrClosed
		}
		return nil, err
	}
	ids := make([]string, len(seqs))
	for i, seq := range seqs {
		ids[i] = (&frame{seq: seq, topic: evs[i].Topic}).id(s.cfg.Epoch)
	}
	s.m.publishDur.UpdateDuration(start)
	return ids, nil
}

// checkWireLen refuses ev when its frame could exceed MaxEventBytes: the
// largest event a client is asked to read.
func (s *Server) checkWireLen(ev *Event) *ValidationError {
	n := wireLen(s.Epoch(), ev)
	if n <= s.cfg.MaxEventBytes {
		return nil
	}
	ve := invalid("Data", "makes the event %d bytes on the wire (its SSE frame); the limit is MaxEventBytes, %d", n, s.cfg.MaxEventBytes)
	ve.kind = ErrEventTooLarge
	return ve
}

func (s *Server) publishNow(frames []*frame) ([]uint64, error) {
	first, err := s.publishFrames(frames)
	if err != nil {
		return nil, err
	}
	seqs := make([]uint64, len(frames))
	for i := range seqs {
		seqs[i] = first + uint64(i)
	}
	return seqs, nil
}

// publishFrames hands frames to the engine and counts them: the one way to
// the engine, for publishNow and the debouncer alike.
func (s *Server) publishFrames(frames []*frame) (uint64, error) {
	first, err := s.eng.publish(frames)
	if err == nil {
		s.m.published.Add(len(frames))
	}
	return first, err
}

func (s *Server) publishDebounced(frames []*frame) ([]uint64, error) {
	seqs := make([]uint64, len(frames))
	var now []*frame
	var nowAt []int
	waits := map[int]<-chan publishResult{}
	for i, f := range frames {
		if f.key == "" {
			now = append(now, f)
			nowAt = append(nowAt, i)
			continue
		}
		ch, err := s.deb.add(f)
		if err != nil {
			return nil, err
		}
		waits[i] = ch
	}
	if len(now) > 0 {
		got, err := s.publishNow(now)
		if err != nil {
			return nil, err
		}
		for j, i := range nowAt {
			seqs[i] = got[j]
		}
	}
	for i, ch := range waits {
		r := <-ch
		if r.err != nil {
			return nil, r.err
		}
		seqs[i] = r.seq
	}
	return seqs, nil
}

// Event is one event to publish.
type Event struct {
	// Topic is required: a non-empty line of at most MaxTopicLen bytes of
	// valid UTF-8 without control characters. Every id of the event ends
	// with "/" and its topic, so a client of several topics can tell its
	// events apart.
	Topic string
	// Event is the SSE event name; empty means the client's default
	// ("message"). It must be one line without NUL, and not one of the names
	// the server uses for its notices ("lagged", "reset", "expired").
	Event string
	// Data is the text of the event, valid UTF-8 (as are Topic, Event and
	// Key: an event stream is UTF-8). Line breaks (LF, CR, CRLF) become
	// separate data lines; a client reads them back joined by LF.
	Data []byte
	// Key, with --debounce, identifies events of a topic that supersede one
	// another: only the latest within the window is sent.
	Key string
}

// MaxTopicLen bounds a topic name, MaxNameLen an event name or key.
const (
	MaxTopicLen = eventid.MaxTopicLen // the topic travels in every event id
	MaxNameLen  = 256
)

// Reserved event names: the server's own notices.
const (
	EventLagged  = "lagged"
	EventReset   = "reset"
	EventExpired = "expired" // the stream's token expired: reconnect with a fresh one
)

// checkTopic returns why topic cannot be used, or nil.
func checkTopic(topic string) *ValidationError {
	switch eventid.CheckTopic(topic) {
	case nil:
		return nil
	case eventid.ErrTopicEmpty:
		return invalid("Topic", "is missing or empty")
	case eventid.ErrTopicTooLong:
		return invalid("Topic", "is %d bytes; the limit is %d", len(topic), MaxTopicLen)
	case eventid.ErrTopicUTF8:
		return invalid("Topic", "is not valid UTF-8%s", atByte(invalidUTF8At([]byte(topic))))
	}
	return invalid("Topic", "must not contain control characters")
}

// validate checks ev and returns why it cannot be published (Index 0), or
// nil.
//
// Every field must be valid UTF-8: an event stream is UTF-8, and a client
// would decode an invalid byte as U+FFFD, so the event would not arrive as
// published. The check is one pass per event at publish time, never per
// client.
func validate(ev *Event) *ValidationError {
	if ve := checkTopic(ev.Topic); ve != nil {
		return ve
	}
	switch {
	case !utf8.ValidString(ev.Event):
		return invalid("Event", "is not valid UTF-8%s", atByte(invalidUTF8At([]byte(ev.Event))))
	case sse.CheckName(ev.Event) != nil:
		return invalid("Event", "must be one line: no CR, LF or NUL")
	case len(ev.Event) > MaxNameLen:
		return invalid("Event", "is %d bytes; the limit is %d", len(ev.Event), MaxNameLen)
	case ev.Event == EventLagged || ev.Event == EventReset || ev.Event == EventExpired:
		return invalid("Event", "%q is reserved for the server's notices", ev.Event)
	case !utf8.ValidString(ev.Key):
		return invalid("Key", "is not valid UTF-8%s", atByte(invalidUTF8At([]byte(ev.Key))))
	case sse.CheckName(ev.Key) != nil:
		return invalid("Key", "must be one line: no CR, LF or NUL")
	case len(ev.Key) > MaxNameLen:
		return invalid("Key", "is %d bytes; the limit is %d", len(ev.Key), MaxNameLen)
	case !utf8.Valid(ev.Data):
		return invalid("Data", "is not valid UTF-8%s", atByte(invalidUTF8At(ev.Data)))
	}
	return nil
}

// invalidUTF8At returns the offset of the first byte of b that does not
// start a valid UTF-8 sequence, or -1 when b is valid UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// atByte says where the invalid byte at offset i is, counting from 1 as the
// malformed-JSON message does.
func atByte(i int) string { return fmt.Sprintf(" at byte %d", i+1) }

// Publish body formats.
const (
	formatJSON   = 1 // application/json: one object
	formatNDJSON = 2 // application/x-ndjson: one object per line
)

// parseError is a rejected publish body: the HTTP status and the message
// (the HTTP API's own, so it names the server's flags).
type parseError struct {
	status int
	msg    string
}

func (e *parseError) Error() string { return e.msg }

// parsePublish parses a publish body into events; a batch is all or nothing,
// so the first bad line rejects it, and the error names that line.
// maxEventBytes bounds each event twice: its JSON object, before it is
// parsed, and its frame on the wire (wireLen, with this epoch) after.
func parsePublish(body []byte, format int, maxEventBytes int, epoch string) ([]Event, *parseError) {
	if format == formatJSON {
		obj := bytes.TrimSpace(body)
		if len(obj) > maxEventBytes {
			return nil, &parseError{413, fmt.Sprintf("the event's JSON object is %d bytes; the limit is %d (--max-event-bytes)", len(obj), maxEventBytes)}
		}
		if !utf8.Valid(obj) {
			return nil, &parseError{400, "not valid UTF-8" + atByte(invalidUTF8At(obj)) + ": JSON text must be UTF-8"}
		}
		ev, why := parseEvent(obj)
		if why != "" {
			return nil, &parseError{400, why}
		}
		if pe := tooLargeOnWire(&ev, maxEventBytes, epoch, ""); pe != nil {
			return nil, pe
		}
		return []Event{ev}, nil
	}
	var evs []Event
	for line, rest, n := []byte(nil), body, 0; len(rest) > 0; {
		n++
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		line = bytes.TrimSpace(line) // also drops the CR of a CRLF
		if len(line) == 0 {
			continue
		}
		if len(line) > maxEventBytes {
			return nil, &parseError{413, fmt.Sprintf("line %d: the event's JSON object is %d bytes; the limit is %d (--max-event-bytes)", n, len(line), maxEventBytes)}
		}
		if !utf8.Valid(line) {
			return nil, &parseError{400, fmt.Sprintf("line %d: not valid UTF-8%s: JSON text must be UTF-8", n, atByte(invalidUTF8At(line)))}
		}
		ev, why := parseEvent(line)
		if why != "" {
			return nil, &parseError{400, fmt.Sprintf("line %d: %s", n, why)}
		}
		if pe := tooLargeOnWire(&ev, maxEventBytes, epoch, fmt.Sprintf("line %d: ", n)); pe != nil {
			return nil, pe
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil, &parseError{400, "the body holds no events: send one JSON object per line"}
	}
	return evs, nil
}

// tooLargeOnWire refuses ev, with 413, when its frame on the wire would exceed
// maxEventBytes: the largest event a client is asked to read (a line break
// in the data, 2 bytes of JSON, costs 7 there).
func tooLargeOnWire(ev *Event, maxEventBytes int, epoch, where string) *parseError {
	n := wireLen(epoch, ev)
	if n <= maxEventBytes {
		return nil
	}
	return &parseError{413, fmt.Sprintf("%sthe event is %d bytes on the wire (its SSE frame: id, event and data lines); the limit is %d (--max-event-bytes), the largest event a client must read", where, n, maxEventBytes)}
}

// parseEvent parses and validates one JSON object.
func parseEvent(obj []byte) (Event, string) {
	if len(obj) == 0 {
		return Event{}, `the body is empty: send {"topic": "...", "data": ...}`
	}
	if obj[0] != '{' {
		if obj[0] == '[' {
			return Event{}, "want one JSON object, not an array: send several events as application/x-ndjson, one per line"
		}
		return Event{}, `want a JSON object like {"topic": "...", "data": ...}`
	}
	w, why := decodeWireEvent(obj)
	if why != "" {
		return Event{}, why
	}
	if w.Topic == nil {
		return Event{}, `"topic" is missing`
	}
	ev := Event{Topic: *w.Topic}
	if w.Event != nil {
		ev.Event = *w.Event
	}
	if w.Key != nil {
		ev.Key = *w.Key
	}
	switch {
	case len(w.Data) == 0:
		// no data: an event with empty data
	case w.Data[0] == '"':
		var s string
		if err := json.Unmarshal(w.Data, &s); err != nil {
			return Event{}, describeJSONError(err)
		}
		ev.Data = []byte(s)
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, w.Data); err != nil {
			return Event{}, describeJSONError(err)
		}
		ev.Data = buf.Bytes()
	}
	if ve := validate(&ev); ve != nil {
		return Event{}, ve.detail()
	}
	return ev, ""
}

// describeJSONError turns a decoder error into advice.
func describeJSONError(err error) string {
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "malformed JSON: the object is cut short"
	}
	return "malformed JSON: " + err.Error()
}
