package loadgen

// Payload layout (fixed width, ASCII, safe inside a JSON string and on one SSE
// data line):
//
//	rc1|TTTTTTTT|SSSSSSSSSSSSSSSS|IIIIIIIIIIIIIIII|F|xxxx...
//	    topic    sequence in topic intended send     flag, then padding to size
//	    (hex)    (hex)             time, ns (hex)
//
// The intended time is counted from the start of the measured phase on the
// load generator's monotonic clock, so the receiving side (the same process)
// needs no clock agreement. The marker is searched anywhere in the event's
// data, so a server that keeps the JSON quotes, wraps the value in an object or
// adds fields around it is read the same way. Decoding allocates nothing.

import (
	"bytes"
	"fmt"
)

const (
	payloadMarker = "rc1|"
	// PayloadHeaderBytes is the smallest payload: marker, fields, separators.
	PayloadHeaderBytes = len(payloadMarker) + 8 + 1 + 16 + 1 + 16 + 1 + 1 + 1

	flagMeasured = 'm'
	flagWarmup   = 'w'
)

var payloadMarkerBytes = []byte(payloadMarker)

// Stamp is what one generated event carries: which topic and sequence it is and
// when it was meant to be sent.
type Stamp struct {
	Topic      uint32
	Seq        uint64
	IntendedNs int64
	Warmup     bool
}

const hexdigits = "0123456789abcdef"

// AppendPayload appends the payload for st, padded with 'x' to size bytes (at
// least PayloadHeaderBytes).
func AppendPayload(dst []byte, st Stamp, size int) []byte {
	dst = append(dst, payloadMarker...)
	dst = appendHex(dst, uint64(st.Topic), 8)
	dst = append(dst, '|')
	dst = appendHex(dst, st.Seq, 16)
	dst = append(dst, '|')
	dst = appendHex(dst, uint64(st.IntendedNs), 16)
	dst = append(dst, '|')
	if st.Warmup {
		dst = append(dst, flagWarmup)
	} else {
		dst = append(dst, flagMeasured)
	}
	dst = append(dst, '|')
	for i := PayloadHeaderBytes; i < size; i++ {
		dst = append(dst, 'x')
	}
	return dst
}

func appendHex(dst []byte, v uint64, width int) []byte {
	for shift := (width - 1) * 4; shift >= 0; shift -= 4 {
		dst = append(dst, hexdigits[(v>>uint(shift))&0xf])
	}
	return dst
}

// DecodePayload finds a load generator payload in data and reads it.
func DecodePayload(data []byte) (Stamp, bool) {
	i := 0 // where ringcast and most servers put it; else search
	if !bytes.HasPrefix(data, payloadMarkerBytes) {
		if i = bytes.Index(data, payloadMarkerBytes); i < 0 {
			return Stamp{}, false
		}
	}
	b := data[i+len(payloadMarker):]
	if len(b) < PayloadHeaderBytes-len(payloadMarker) {
		return Stamp{}, false
	}
	topic, ok1 := parseHex(b[0:8])
	seq, ok2 := parseHex(b[9:25])
	intended, ok3 := parseHex(b[26:42])
	if !ok1 || !ok2 || !ok3 || b[8] != '|' || b[25] != '|' || b[42] != '|' || b[44] != '|' {
		return Stamp{}, false
	}
	st := Stamp{Topic: uint32(topic), Seq: seq, IntendedNs: int64(intended)}
	switch b[43] {
	case flagMeasured:
	case flagWarmup:
		st.Warmup = true
	default:
		return Stamp{}, false
	}
	return st, true
}

// parseHex reads b as hexadecimal digits. It looks every byte up in a table
// and checks them all at the end: the digits of a time stamp mix letters and
// numbers at random, which a branch per byte mispredicts about half the time.
func parseHex(b []byte) (uint64, bool) {
	var v uint64
	var bad byte
	for _, c := range b {
		d := hexValue[c]
		bad |= d
		v = v<<4 | uint64(d&0xf)
	}
	return v, bad&hexInvalid == 0
}

const hexInvalid = 0x10

// hexValue is a byte's value as a hex digit, or hexInvalid.
var hexValue = func() (t [256]byte) {
	for c := range t {
		d, ok := hexDigit(byte(c))
		t[c] = d
		if !ok {
			t[c] = hexInvalid
		}
	}
	return t
}()

func checkPayloadSize(size int) error {
	if size < PayloadHeaderBytes {
		return fmt.Errorf("payload of %d bytes is too small: the sequence and intended time need %d", size, PayloadHeaderBytes)
	}
	return nil
}
