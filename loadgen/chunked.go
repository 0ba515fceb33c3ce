package loadgen

// chunkDecoder invariants:
//
//   - It is a byte-at-a-time state machine over whatever pieces the socket
//     returns, so a chunk header or its CRLF may be split anywhere.
//   - Chunk data is never copied: emit receives sub-slices of the input.
//   - remaining counts the data bytes of the current chunk still to come; a
//     size line with more than 15 hex digits is refused before it can overflow.
//   - A bare LF is accepted wherever CRLF is expected (as net/http's reader
//     accepts it after a size line); anything else out of place is an error.
//   - After the last (zero-size) chunk and its trailer, done is true and every
//     further byte is an error: an SSE stream has nothing after its body.

import (
	"errors"
	"fmt"
)

var errChunkEnded = errors.New("chunked: data after the final chunk")

type chunkState uint8

const (
	chSize      chunkState = iota // hex digits of the size line
	chSizeExt                     // chunk extension or whitespace, up to the line end
	chSizeLF                      // CR seen, LF expected
	chData                        // remaining bytes of data
	chDataCR                      // CR (or LF) expected after the data
	chDataLF                      // LF expected after CR
	chTrailer                     // start of a trailer line (empty line ends the body)
	chTrailerLn                   // inside a trailer line
	chTrailerLF                   // CR at the start of a trailer line: LF expected
	chDone
)

type chunkDecoder struct {
	state     chunkState
	size      int64
	digits    int
	remaining int64
}

func (d *chunkDecoder) reset() { *d = chunkDecoder{} }

func (d *chunkDecoder) done() bool { return d.state == chDone }

// feed decodes b and hands every piece of chunk data to emit, in order.
func (d *chunkDecoder) feed(b []byte, emit func([]byte) error) error {
	for len(b) > 0 {
		switch d.state {
		case chData:
			n := int64(len(b))
			if n > d.remaining {
				n = d.remaining
			}
			if err := emit(b[:n]); err != nil {
				return err
			}
			b = b[n:]
			d.remaining -= n
			if d.remaining == 0 {
				d.state = chDataCR
			}
			continue
		case chDone:
			return errChunkEnded
		}
		c := b[0]
		b = b[1:]
		switch d.state {
		case chSize:
			v, ok := hexDigit(c)
			switch {
			case ok:
				if d.digits == 15 {
					return errors.New("chunked: chunk size too large")
				}
				d.size = d.size<<4 | int64(v)
				d.digits++
			case d.digits == 0:
				return fmt.Errorf("chunked: bad chunk size byte %q", c)
			case c == '\r':
				d.state = chSizeLF
			case c == '\n':
				d.endSizeLine()
			case c == ';' || c == ' ' || c == '\t':
				d.state = chSizeExt
			default:
				return fmt.Errorf("chunked: bad chunk size byte %q", c)
			}
		case chSizeExt:
			switch c {
			case '\r':
				d.state = chSizeLF
			case '\n':
				d.endSizeLine()
			}
		case chSizeLF:
			if c != '\n' {
				return errors.New("chunked: CR without LF after chunk size")
			}
			d.endSizeLine()
		case chDataCR:
			switch c {
			case '\r':
				d.state = chDataLF
			case '\n':
				d.state = chSize
			default:
				return errors.New("chunked: missing CRLF after chunk data")
			}
		case chDataLF:
			if c != '\n' {
				return errors.New("chunked: missing LF after chunk data")
			}
			d.state = chSize
		case chTrailer:
			switch c {
			case '\r':
				d.state = chTrailerLF
			case '\n':
				d.state = chDone
			default:
				d.state = chTrailerLn
			}
		case chTrailerLn:
			if c == '\n' {
				d.state = chTrailer
			}
		case chTrailerLF:
			if c != '\n' {
				return errors.New("chunked: CR without LF in trailer")
			}
			d.state = chDone
		}
	}
	return nil
}

func (d *chunkDecoder) endSizeLine() {
	d.remaining, d.size, d.digits = d.size, 0, 0
	if d.remaining == 0 {
		d.state = chTrailer
		return
	}
	d.state = chData
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
