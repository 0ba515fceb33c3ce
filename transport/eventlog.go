package transport

// The event log: what the nodes of a cluster share (cluster mode, Config
// NATSURL). Every node appends the events published to it, follows the whole
// log into its own ring, and replays from the log the part of a client's
// history its ring no longer holds. The JetStream implementation is in
// jetstream.go; the node's side in follower.go and cluster.go.
//
// Invariants:
//   L1. The log's sequences have no holes: it loses only its head
//       (retention by age or size), never a message in between, so "every
//       event after seq g" is exactly the log from g+1 on, and a follower
//       that sees seq s after s-1 has missed nothing.
//   L2. append gives a batch contiguous sequences, all or none of it, and
//       the same key within the log's duplicate window gives the first
//       append's sequences again, the batch stored once. (With
//       NATSPipelinedBatches a batch is appended event by event instead:
//       per event, the same holds; jetstream.go's appendEach.)
//   L3. The epoch is the same on every node reading the same log and
//       changes only when the log is recreated (sequences start again). A
//       node that sees it change ends every stream, empties its ring under
//       the new epoch and follows the new log from its start (cluster.go's
//       recreate); a client's id of the old epoch then gets "reset" (epoch).

import (
	"context"
	"errors"
	"time"
)

// logRecord is one event as the log stores it: its topic and its SSE body
// (the optional event line and the data lines, sse.AppendEvent), so that
// every node builds byte-identical frames from it.
type logRecord struct {
	topic string
	body  []byte
}

// logEntry is a record read back with its place in the log.
type logEntry struct {
	seq     uint64
	topic   string
	body    []byte
	key     string // the idempotency key of the batch this entry begins, "" if none
	pending uint64 // entries of the reader's filter stored after this one when it was read
}

// eventLog is the shared log of a cluster.
type eventLog interface {
	// epoch names the log's incarnation (L3).
	epoch() string
	// renewEpoch takes the epoch of a log that was recreated (L3) and returns it.
	renewEpoch(ctx context.Context) (string, error)
	// append stores recs as one batch (L2) and returns the first sequence.
	append(ctx context.Context, key string, recs []logRecord) (uint64, error)
	// bounds returns the first and last sequences held (first > last when
	// the log is empty).
	bounds(ctx context.Context) (first, last uint64, err error)
	// follow calls apply, from one goroutine, with the whole log from seq
	// from on, in order, in batches, until stop; it reconnects by itself.
	follow(from uint64, apply func([]logEntry)) (stop func(), err error)
	// replay reads the entries of topics (all when empty) from seq from on.
	replay(ctx context.Context, from uint64, topics []string) (logReplay, error)
	// connected reports whether the log can be reached now.
	connected() bool
	close()
}

// logReplay is one client's read of the log's history.
type logReplay interface {
	// next returns the next entries, at most max, waiting for at least one
	// unless none was pending; done reports that no entry of the filter
	// was stored after the last one returned (or after the replay's start,
	// when none was) at the time it was read.
	next(ctx context.Context, max int) (entries []logEntry, done bool, err error)
	close()
}

// Errors of cluster mode. A publish that fails with ErrLogUnavailable may or
// may not have been stored; a retry with the same idempotency key is safe.
var (
	// ErrLogUnavailable: the event log (NATS JetStream) could not be reached
	// or did not acknowledge within NATSPublishTimeout.
	ErrLogUnavailable = errors.New("transport: the event log (NATS JetStream) is unavailable")
	// ErrBatchTooLarge: a batch has more events than one atomic append of
	// the log takes (NATSMaxBatch).
	ErrBatchTooLarge = errors.New("transport: batch too large for one atomic append")

	// ErrInvalidKey: an idempotency key must be 1 to 128 visible ASCII
	// characters.
	ErrInvalidKey = errors.New("transport: the idempotency key must be 1 to 128 visible ASCII characters")

	errLogRecreated   = errors.New("transport: the event log was recreated")
	errDuplicateBatch = errors.New("transport: a batch with this idempotency key is already stored")
)

// logWait bounds how long a node waits for its follower to apply what the
// log acknowledged (a duplicate batch's original, a client from a node that
// is ahead) before it gives up on a publish.
const logWait = 5 * time.Second
