package bench

import (
	"encoding/binary"
	"time"
)

// Event is what the publisher sends and every consumer receives. Strategies
// carry it by value; the payload bytes are shared and never written after the
// run starts, as a real broadcast shares one encoded message among readers.
type Event struct {
	// Seq numbers the events of one run 1, 2, 3, ... in publish order.
	Seq uint64
	// Stamp is the publisher's monotonic clock (see Nanotime) when the event
	// was published, on sampled events only (Seq%SampleEvery == 0); 0 otherwise.
	Stamp int64
	// Data is the payload. Its first 8 bytes hold Seq%len(pool), so a consumer
	// can tell a torn or mismatched event from a whole one.
	Data []byte
}

// SampleEvery is the latency sampling period: every SampleEvery-th event
// carries a publish stamp. Reading the clock costs about as much as a ring
// publish, so stamping every event would measure the clock.
const SampleEvery = 16

// epoch anchors Nanotime; time.Since reads the monotonic clock.
var epoch = time.Now()

// Nanotime is a monotonic clock in nanoseconds, shared by the publisher and
// the consumers.
func Nanotime() int64 { return int64(time.Since(epoch)) }

// payloadPool is a set of immutable payloads of one size. Event seq uses
// pool[seq%len(pool)], whose first 8 bytes hold that index.
type payloadPool [][]byte

// poolSize is large enough that consumers do not all read one hot cache line
// and small enough to be built in microseconds.
const poolSize = 1024

func newPayloadPool(size int) payloadPool {
	if size < 8 {
		size = 8
	}
	backing := make([]byte, size*poolSize)
	p := make(payloadPool, poolSize)
	for i := range p {
		b := backing[i*size : (i+1)*size : (i+1)*size]
		for j := 8; j < len(b); j++ {
			b[j] = byte(i + j)
		}
		binary.LittleEndian.PutUint64(b, uint64(i))
		p[i] = b
	}
	return p
}

func (p payloadPool) get(seq uint64) []byte { return p[seq%poolSize] }

// intact reports whether ev's payload is the one published with ev.Seq: it
// touches the payload the way a consumer that encodes it would, and catches a
// value torn between two publishes.
func intact(ev *Event) bool {
	return len(ev.Data) >= 8 && binary.LittleEndian.Uint64(ev.Data) == ev.Seq%poolSize &&
		ev.Data[len(ev.Data)-1] == lastByte(ev.Seq%poolSize, len(ev.Data))
}

func lastByte(i uint64, size int) byte {
	if size <= 8 {
		return byte(i >> (8 * (size - 1)))
	}
	return byte(int(i) + size - 1)
}
