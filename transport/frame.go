package transport

// Frames and batches: an event encoded once into the exact SSE bytes every
// client receives, the notices that go between frames, and the batch that
// carries them to a socket in one write.

import (
	"strconv"
	"unicode/utf8"

	"github.com/ringcast/ringcast/transport/internal/eventid"
	"github.com/ringcast/ringcast/transport/internal/sse"
)

// frame is one event encoded once: the exact SSE bytes every client receives.
// A frame is immutable once publish returns, so the same bytes are written to
// every client without copying or locking.
type frame struct {
	seq      uint64 // global sequence, the one in the id
	topicSeq uint64 // 1 + the number of earlier events of the same topic
	prevSeq  uint64 // global sequence of the previous event of the topic, 0 if none
	topic    string
	bytes    []byte // "id: <epoch>-<seq>/<topic>\n" [event: <name>\n] data lines "\n"
	idStart  int    // bytes = buf[idStart:]; the position is written right-aligned before "/<topic>"
	buf      []byte
	key      string // debounce key, "" when none
}

// idRoom is the space reserved before "/<topic>\n" for "id: <epoch>-<seq>",
// the part of the id only known under the engine's lock.
const idRoom = len("id: ") + eventid.MaxPositionLen

// encodeFrame encodes ev's body and the topic part of its id, leaving room
// for the position that publish stamps under its lock: all but a few bytes
// of encoding happen outside the lock, once per event whatever the number of
// clients.
func encodeFrame(ev *Event) *frame {
	n := len("/") + len(ev.Topic) + len("\n") + sse.EventLen(ev.Event, ev.Data)
	buf := make([]byte, idRoom, idRoom+n)
	buf = eventid.AppendTopic(buf, ev.Topic)
	buf = append(buf, '\n')
	buf = sse.AppendEvent(buf, ev.Event, ev.Data)
	return &frame{topic: ev.Topic, buf: buf, key: ev.Key}
}

// wireLen is the most bytes ev takes on the wire: its frame, with the id at
// its longest for this epoch (a 20-digit sequence), so that whether an event
// fits MaxEventBytes never depends on when it is published. A client reads a
// frame as one token (go-sse, r3labs/sse and bufio.Scanner hold at most 64
// KiB by default), so this, not the published JSON, is what must be bounded:
// each line break of the data costs a "data: " line.
func wireLen(epoch string, ev *Event) int {
	return len("id: ") + len(epoch) + len("-") + eventid.MaxSeqLen + len("/") + len(ev.Topic) + len("\n") +
		sse.EventLen(ev.Event, ev.Data)
}

// stamp writes "id: <epoch>-<seq>" in front of the topic part of the id line
// and sets f.bytes.
func (f *frame) stamp(epoch string, seq uint64) {
	var tmp [idRoom]byte
	id := append(tmp[:0], "id: "...)
	id = eventid.AppendPosition(id, epoch, seq)
	f.seq = seq
	f.idStart = idRoom - len(id)
	copy(f.buf[f.idStart:], id)
	f.bytes = f.buf[f.idStart:]
}

// id returns the frame's event id (the position alone when f.topic is "").
func (f *frame) id(epoch string) string { return eventid.Format(epoch, f.seq, f.topic) }

// unknownMissed marks a reset whose gap is not known ("missed": null).
const unknownMissed = -1

// appendReset appends "event: reset" with the reason, the id the client sent
// and the number of its events it missed (unknownMissed: null).
func appendReset(dst []byte, reason, lastID string, missed int64) []byte {
	dst = append(dst, "event: reset\ndata: {\"reason\":\""...)
	dst = append(dst, reason...)
	dst = append(dst, "\",\"lastEventId\":"...)
	dst = appendJSONString(dst, lastID, eventid.MaxLen)
	dst = append(dst, ",\"missed\":"...)
	if missed < 0 {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, missed, 10)
	}
	return append(dst, "}\n\n"...)
}

// appendLagged appends "event: lagged" with the exact number skipped.
func appendLagged(dst []byte, skipped uint64) []byte {
	dst = append(dst, "event: lagged\ndata: {\"skipped\":"...)
	dst = strconv.AppendUint(dst, skipped, 10)
	return append(dst, "}\n\n"...)
}

// appendJSONString appends s as a JSON string, cut to at most max bytes (on
// a rune boundary) and with invalid UTF-8 replaced, so that whatever a client
// sent comes back as one valid line.
func appendJSONString(dst []byte, s string, max int) []byte {
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// batch is what one write carries. Its buffer starts with room for the chunk
// header, filled in right-aligned at write time, so a batch goes out in a
// single write without copying.
type batch struct {
	buf      []byte
	scratch  []*frame // read buffer for ring readers
	events   int      // frames appended
	replayed int      // of which replays
	lastSeq  uint64   // seq of the last frame appended
	notices  int      // lagged/reset notices appended
}

const (
	chunkRoom     = 16 + 2 // hex length of a chunk up to 2^64 and CRLF
	batchMaxBytes = 256 << 10
	batchReads    = 256
)

func (b *batch) reset() {
	b.buf = b.buf[:chunkRoom]
	clear(b.scratch)
	b.events, b.replayed, b.notices, b.lastSeq = 0, 0, 0, 0
}

func (b *batch) empty() bool { return b.events == 0 && b.notices == 0 }

func (b *batch) full() bool { return len(b.buf) >= batchMaxBytes }

func (b *batch) addFrame(f *frame, replay bool) {
	b.buf = append(b.buf, f.bytes...)
	b.events++
	b.lastSeq = f.seq
	if replay {
		b.replayed++
	}
}

func (b *batch) addLagged(skipped uint64) {
	b.buf = appendLagged(b.buf, skipped)
	b.notices++
}

func (b *batch) addRaw(p []byte) {
	b.buf = append(b.buf, p...)
	b.notices++
}
