// Package eventid encodes and decodes the SSE event ids of ringcast.
//
// An id is "<epoch>-<seq>": the stream epoch, chosen afresh every time a
// server starts, then the event's global sequence in decimal. Clients treat it
// as opaque; the server reads it back from Last-Event-ID to decide between an
// exact replay and a reset. The epoch is what makes an id from before a
// restart recognisable: sequences start again at 1, and without it a resume
// would silently skip or repeat events.
//
// Invariants: an id never contains anything but [0-9a-z-], so it is always a
// valid single-line SSE field; Parse(Format(e, s)) == (e, s) for every valid
// epoch and s >= 1.
package eventid

import (
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
)

// MaxEpochLen bounds an epoch; NewEpoch returns 8 characters.
const MaxEpochLen = 16

// Errors returned by Parse.
var (
	ErrMalformed = errors.New("malformed event id")
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

// Append appends the id of seq in epoch to dst.
func Append(dst []byte, epoch string, seq uint64) []byte {
	dst = append(dst, epoch...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, seq, 10)
}

// Format returns the id of seq in epoch.
func Format(epoch string, seq uint64) string {
	return string(Append(make([]byte, 0, len(epoch)+21), epoch, seq))
}

// Parse splits an id into its epoch and sequence. It accepts exactly what
// Format produces: a valid epoch, one dash, and a decimal sequence >= 1
// without sign or leading zeros.
func Parse(id string) (epoch string, seq uint64, err error) {
	i := strings.IndexByte(id, '-')
	if i < 0 || !ValidEpoch(id[:i]) {
		return "", 0, ErrMalformed
	}
	digits := id[i+1:]
	if digits == "" || len(digits) > 20 || digits[0] == '0' {
		return "", 0, ErrMalformed
	}
	for j := 0; j < len(digits); j++ {
		if digits[j] < '0' || digits[j] > '9' {
			return "", 0, ErrMalformed
		}
	}
	seq, err = strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return "", 0, ErrMalformed
	}
	return id[:i], seq, nil
}
