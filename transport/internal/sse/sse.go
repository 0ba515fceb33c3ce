// Package sse encodes Server-Sent Events frames exactly as the WHATWG HTML
// standard's event-stream parser reads them back.
//
// Invariants (what a conforming parser reconstructs from our bytes):
//
//   - Every frame ends with a blank line, so no event ever merges with the next.
//   - Data text is split at every line break the parser recognises (LF, CR and
//     CRLF, CRLF counting once) into one "data: " line each; the parser joins
//     them with LF, so the text comes back with its line breaks normalised to
//     LF. At least one data line is always written, so an event with empty data
//     is still dispatched (the parser drops events whose data buffer is empty).
//   - Exactly one space follows each colon we write; the parser strips one, so
//     a value that itself starts with a space survives.
//   - Field values we write as a single line (id, event, comment) never contain
//     CR, LF or NUL: Append* refuse them rather than emit a broken stream, and
//     CheckName is the check callers run before accepting a name from outside.
package sse

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// ErrLineBreak is returned for a single-line field (event name, id) that
// contains CR, LF or NUL, or is not valid UTF-8.
var ErrLineBreak = errors.New("contains a line break, NUL or invalid UTF-8")

// CheckName reports whether s can be written as an event name or id: a single
// line of valid UTF-8 without NUL. The parser would cut the value at a line
// break and treat the rest as another field, and it ignores an id with NUL.
func CheckName(s string) error {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r', '\n', 0:
			return ErrLineBreak
		}
	}
	if !utf8.ValidString(s) {
		return ErrLineBreak
	}
	return nil
}

// AppendRetry appends "retry: <ms>\n\n", the reconnection delay in milliseconds.
func AppendRetry(dst []byte, ms int64) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, ms, 10)
	return append(dst, "\n\n"...)
}

// AppendComment appends ": <text>\n\n". A comment is ignored by the parser and
// serves as a keep-alive. text must be a single line (see CheckName); a line
// break in it is replaced by a space so the stream stays well-formed.
func AppendComment(dst []byte, text string) []byte {
	dst = append(dst, ": "...)
	dst = appendSingleLine(dst, text)
	return append(dst, "\n\n"...)
}

// AppendID appends "id: <id>\n". id must pass CheckName; offending bytes are
// replaced (CR/LF by space, NUL dropped) so the output is always one line.
func AppendID(dst []byte, id string) []byte {
	dst = append(dst, "id: "...)
	dst = appendSingleLine(dst, id)
	return append(dst, '\n')
}

// AppendEvent appends the rest of a frame after its optional id line: an
// "event: <name>" line when name is not empty, the data lines, and the blank
// line that dispatches the event. name must pass CheckName (offending bytes
// are replaced, as in AppendID).
func AppendEvent(dst []byte, name string, data []byte) []byte {
	if name != "" {
		dst = append(dst, "event: "...)
		dst = appendSingleLine(dst, name)
		dst = append(dst, '\n')
	}
	dst = AppendData(dst, data)
	return append(dst, '\n')
}

// AppendData appends data as "data: " lines, one per line of data, splitting
// at LF, CR and CRLF. It always appends at least one line.
func AppendData(dst []byte, data []byte) []byte {
	start := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c != '\n' && c != '\r' {
			continue
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[start:i]...)
		dst = append(dst, '\n')
		if c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		start = i + 1
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data[start:]...)
	return append(dst, '\n')
}

// EventLen is len(AppendEvent(nil, name, data)) without building it, so a
// caller can allocate a frame in one piece.
func EventLen(name string, data []byte) int {
	n := 1 // the blank line
	if name != "" {
		n += len("event: ") + len(name) + 1
	}
	lines := 1
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\n':
			lines++
		case '\r':
			lines++
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
				n-- // the LF of a CRLF is not copied
			}
		}
	}
	// Each line costs "data: " and its LF; the line-break bytes themselves
	// are not copied (one per break, already counted in len(data)).
	return n + len(data) - (lines - 1) + lines*(len("data: ")+1)
}

// appendSingleLine appends s with CR and LF turned into spaces and NUL dropped.
func appendSingleLine(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r', '\n':
			dst = append(dst, ' ')
		case 0:
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
