// Package eventid encodes and decodes the SSE event ids of ringcast.
//
// An id is "<epoch>-<seq>/<topic>": the stream epoch, chosen afresh every
// time a server starts, the event's global sequence in decimal, and the
// event's topic. The server reads the id back from Last-Event-ID to decide
// between an exact replay and a reset; only "<epoch>-<seq>", the position,
// counts there. The epoch is what makes an id from before a restart
// recognisable: sequences start again at 1, and without it a resume would
// silently skip or repeat events. The topic is informative: it is the one
// field besides the publisher's event name and data that EventSource shows
// a client, so a client of several topics reads each event's topic after
// the first '/'. Parse also accepts the position alone (the id form before
// topics were added), so a client's stored id keeps resuming.
//
// Invariants:
//   - An id is "<epoch>-<seq>" ([0-9a-z-] only) or that followed by "/" and
//     a valid topic (see CheckTopic: 1 to MaxTopicLen bytes of UTF-8 without
//     control characters), at most MaxLen bytes. So it is always a valid
//     single-line SSE field (no CR, LF, NUL) and a valid HTTP header value
//     when EventSource sends it back as Last-Event-ID.
//   - The first '/' of an id ends its position: epochs and sequences hold no
//     '/', and a topic may (it is everything after the first one).
//   - Parse(Format(e, s, t)) == (e, s, t) for every valid epoch e, s >= 1
//     and valid topic t, or t == "" (Format then writes the position alone).
//   - Append(e, s, t) == AppendTopic(AppendPosition(e, s), t): a writer may
//     encode the topic part ahead of time and the position when it knows it.
package eventid

import (
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxEpochLen bounds an epoch; NewEpoch returns 8 characters.
const MaxEpochLen = 16

// MaxTopicLen bounds a topic, in bytes.
const MaxTopicLen = 256

// MaxSeqLen is the most digits of a sequence (a uint64).
const MaxSeqLen = 20

// MaxPositionLen is the longest "<epoch>-<seq>".
const MaxPositionLen = MaxEpochLen + 1 + MaxSeqLen

// MaxLen is the longest id: position, '/', topic.
const MaxLen = MaxPositionLen + 1 + MaxTopicLen

// Errors returned by Parse and CheckTopic.
var (
	ErrMalformed = errors.New("malformed event id")

	ErrTopicEmpty   = errors.New("empty topic")
	ErrTopicTooLong = errors.New("topic too long")
	ErrTopicUTF8    = errors.New("topic not valid UTF-8")
	ErrTopicControl = errors.New("topic with a control character")
)

// NewEpoch returns a random 8-character epoch (40 bits of base-32).
func NewEpoch() string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz" // Crockford's base 32
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go >= 1.24)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b[:])
}

// ValidEpoch reports whether e may be used as an epoch: 1 to MaxEpochLen
// characters from [0-9a-z].
func ValidEpoch(e string) bool {
	if len(e) == 0 || len(e) > MaxEpochLen {
		return false
	}
	for i := 0; i < len(e); i++ {
		c := e[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// CheckTopic returns nil for a valid topic, else the first thing wrong with
// it: empty, longer than MaxTopicLen bytes, not valid UTF-8, or holding a
// control character (C0 or DEL), any of which could break an SSE line or an
// HTTP header.
func CheckTopic(t string) error {
	switch {
	case t == "":
		return ErrTopicEmpty
	case len(t) > MaxTopicLen:
		return ErrTopicTooLong
	case !utf8.ValidString(t):
		return ErrTopicUTF8
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c < 0x20 || c == 0x7f {
			return ErrTopicControl
		}
	}
	return nil
}

// AppendPosition appends "<epoch>-<seq>" to dst.
func AppendPosition(dst []byte, epoch string, seq uint64) []byte {
	dst = append(dst, epoch...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, seq, 10)
}

// AppendTopic appends "/<topic>" to dst, or nothing when topic is "".
func AppendTopic(dst []byte, topic string) []byte {
	if topic == "" {
		return dst
	}
	dst = append(dst, '/')
	return append(dst, topic...)
}

// Append appends the id of seq on topic in epoch to dst; topic "" gives
// the position alone.
func Append(dst []byte, epoch string, seq uint64, topic string) []byte {
	return AppendTopic(AppendPosition(dst, epoch, seq), topic)
}

// Format returns the id of seq on topic in epoch (see Append).
func Format(epoch string, seq uint64, topic string) string {
	return string(Append(make([]byte, 0, MaxPositionLen+1+len(topic)), epoch, seq, topic))
}

// Parse splits an id into its epoch, sequence and topic ("" when the id is
// the position alone). It accepts exactly what Format produces: a valid
// epoch, one dash, a decimal sequence >= 1 without sign or leading zeros,
// then nothing or a '/' and a valid topic.
func Parse(id string) (epoch string, seq uint64, topic string, err error) {
	pos, topic, hasTopic := strings.Cut(id, "/")
	if hasTopic && CheckTopic(topic) != nil {
		return "", 0, "", ErrMalformed
	}
	i := strings.IndexByte(pos, '-')
	if i < 0 || !ValidEpoch(pos[:i]) {
		return "", 0, "", ErrMalformed
	}
	digits := pos[i+1:]
	if digits == "" || len(digits) > 20 || digits[0] == '0' {
		return "", 0, "", ErrMalformed
	}
	for j := 0; j < len(digits); j++ {
		if digits[j] < '0' || digits[j] > '9' {
			return "", 0, "", ErrMalformed
		}
	}
	seq, err = strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return "", 0, "", ErrMalformed
	}
	return pos[:i], seq, topic, nil
}
