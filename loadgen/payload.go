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
	"encoding/binary"
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
	topic, ok1 := parseHex8(b[0:8])
	seq, ok2 := parseHex16(b[9:25])
	intended, ok3 := parseHex16(b[26:42])
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

// parseHex8 reads 8 hexadecimal digits (either case) eight at a time, in one
// register: the digits of a time stamp mix letters and numbers at random,
// which a branch per byte mispredicts about half the time.
func parseHex8(b []byte) (uint32, bool) {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	x := binary.BigEndian.Uint64(b)
	// With every byte below 0x80, c+(0x80-lo) has its top bit set exactly
	// when c >= lo, and (0x80+hi)-c exactly when c <= hi; no byte carries or
	// borrows into the next.
	digit := (x + (0x80-'0')*ones) & ((0x80+'9')*ones - x)
	lower := x | 0x20*ones
	letter := (lower + (0x80-'a')*ones) & ((0x80+'f')*ones - lower)
	if x&high != 0 || (digit|letter)&high != high {
		return 0, false
	}
	v := x&(0x0f*ones) + (letter&high)>>7*9 // 'a' & 0xf is 1
	v = (v | v>>4) & 0x00ff00ff00ff00ff
	v = (v | v>>8) & 0x0000ffff0000ffff
	v = (v | v>>16) & 0xffffffff
	return uint32(v), true
}

// parseHex16 reads 16 hexadecimal digits.
func parseHex16(b []byte) (uint64, bool) {
	hi, ok1 := parseHex8(b[:8])
	lo, ok2 := parseHex8(b[8:16])
	return uint64(hi)<<32 | uint64(lo), ok1 && ok2
}

func checkPayloadSize(size int) error {
	if size < PayloadHeaderBytes {
		return fmt.Errorf("payload of %d bytes is too small: the sequence and intended time need %d", size, PayloadHeaderBytes)
	}
	return nil
}
