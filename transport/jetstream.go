package transport

// The event log on NATS JetStream (eventlog.go says what a log promises).
//
// One stream, subjects "ringcast.>", one subject per topic: "ringcast." and
// the topic with every byte outside [A-Za-z0-9_-] written %XX, so that a
// topic holding '.', '*', '>' or spaces is one literal subject token. The
// stream keeps limits retention only (age, bytes, DiscardOld), denies deletes
// and rollups, has no per-subject limit and no per-message TTL: it loses only
// its head (L1), and its stream sequence is the event's sequence, the <seq>
// of its id. The epoch is the stream's creation time in base 36 (L3): every
// node reads the same one, and a recreated stream gets a new one.
//
// An append of several events is one atomic batch (nats-server >= 2.12,
// AllowAtomicPublish): Nats-Batch-Id and Nats-Batch-Sequence on each message,
// Nats-Batch-Commit on the last, which alone is acknowledged; the stream
// stores the whole batch at contiguous sequences or nothing. An idempotency
// key is the first message's Nats-Msg-Id (L2). A single event is a plain
// publish, whose acknowledgement names the original on a duplicate; a batch's
// duplicate is refused whole, and the node finds the original's sequence in
// what its follower applied (cluster.go).
//
// The follower reads the stream through a pull consumer of its own
// (jsFollower), and so does a client's replay (jsReplay), not nats.go's
// ordered consumer, whose reset holds its lock through consumer-create
// requests with a long fixed timeout: when a node's own NATS server went
// away and such a request went unanswered, its follower stood still that
// long and its stop waited for it (docs/cluster.md, "Failure behaviour").
// A replay does not recreate its consumer at all: the client does, by
// resuming (JS3).
//
// Invariants:
//   JS1. A follower's next is the stream sequence after the last entry it
//       read; each consumer is created from next, and what it delivers is
//       used only while its delivery sequences go 1, 2, 3...: on an error,
//       missing heartbeats, a gap in delivery sequences or a reconnection,
//       the follower applies what it read, drops the consumer and creates
//       another from next, so no entry is read twice or skipped. It creates
//       one only on the stream of the log's epoch (L3): a stream recreated
//       under the same name is not read as the old one's continuation.
//   JS2. A follower's stop is bounded: every consumer-create request and
//       every read waits on a context that stop cancels, and none waits
//       holding a lock.
//   JS3. A replay reads one ephemeral pull consumer of its own, filtered to
//       the client's topics, from the replay's start, and never recreates
//       it: what it delivers is used only while its delivery sequences go
//       1, 2, 3... (its stream sequences may skip other topics' entries;
//       its delivery sequences may not). Any failure (a request
//       unanswered, missing heartbeats, the consumer or its server gone, a
//       disconnection, a gap in delivery sequences) ends the replay with
//       ErrLogUnavailable after the last entry delivered in order, and the
//       client resumes through the exact resume path (cluster.go, logSub):
//       no entry skipped or read twice, no reset made up.
//   JS4. A replay never waits longer than followRequestTimeout per request
//       (create, fetch, delete) and holds no lock while it waits: a failover
//       cannot keep a client, or the node's Shutdown, waiting on it longer.
//       It sends no request once its caller's context is done, but a fetch
//       once sent is read to its end whatever that context does: what the
//       fetch carries was delivered by the consumer (JS3), and dropping it
//       would end the client's stream for nothing (the stream's wake fires
//       for a keep-alive as well as for a shutdown).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

const (
	subjectPrefix = "ringcast."
	hdrBatchID    = "Nats-Batch-Id"
	hdrBatchSeq   = "Nats-Batch-Sequence"
	hdrBatchEnd   = "Nats-Batch-Commit"

	// Error codes of a JetStream acknowledgement (nats-server's
	// jetstream_errors_generated.go).
	jsErrBatchDuplicate = 10201 // the batch holds a message id already stored
	jsErrBatchTooLarge  = 10199
)

// topicSubject returns the subject of topic's events.
func topicSubject(topic string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(subjectPrefix)+len(topic)+8)
	b = append(b, subjectPrefix...)
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if subjectSafe(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

func subjectSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// subjectTopic inverts topicSubject; ok is false for a subject it cannot
// have written.
func subjectTopic(subj string) (string, bool) {
	if len(subj) <= len(subjectPrefix) || subj[:len(subjectPrefix)] != subjectPrefix {
		return "", false
	}
	s := subj[len(subjectPrefix):]
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case subjectSafe(c):
			b = append(b, c)
		case c == '%' && i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]):
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if subjectSafe(byte(v)) {
				return "", false // never escaped: one spelling per topic
			}
			b = append(b, byte(v))
			i += 2
		default:
			return "", false
		}
	}
	return string(b), true
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

// jetStreamLog is the eventLog on a JetStream stream.
type jetStreamLog struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	name     string
	ep       atomic.Pointer[string] // L3; changes only in renewEpoch
	maxBatch int
	atomic   bool // NATSAtomicBatches
	log      *slog.Logger
	fol      atomic.Pointer[jsFollower] // told of reconnections

	// testHookFetched, when set, runs once a replay's fetch was sent (tests
	// fire the stream's wake there).
	testHookFetched func()
}

// streamConfig is the stream a node creates when it is missing.
func streamConfig(cfg *Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:               cfg.NATSStream,
		Description:        "ringcast events (docs/cluster.md)",
		Subjects:           []string{subjectPrefix + ">"},
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardOld,
		MaxAge:             cfg.NATSMaxAge,
		MaxBytes:           cfg.NATSMaxBytes,
		MaxMsgs:            -1,
		MaxMsgsPerSubject:  -1,
		Storage:            jetstream.FileStorage,
		Replicas:           cfg.NATSReplicas,
		DenyDelete:         true,
		AllowAtomicPublish: true,
	}
}

// checkStream says why an existing stream cannot hold a ringcast log, or
// returns nil.
func checkStream(c *jetstream.StreamConfig) error {
	var why []string
	if !slices.Equal(c.Subjects, []string{subjectPrefix + ">"}) {
		why = append(why, fmt.Sprintf("its subjects are %q, not [%q]", c.Subjects, subjectPrefix+">"))
	}
	if c.Retention != jetstream.LimitsPolicy {
		why = append(why, "its retention is "+c.Retention.String()+", not limits")
	}
	if c.Discard != jetstream.DiscardOld {
		why = append(why, "it discards new messages, not old ones")
	}
	if !c.DenyDelete {
		why = append(why, "it allows deleting messages (deny_delete is off)")
	}
	if !c.AllowAtomicPublish {
		why = append(why, "atomic batch publish is off (allow_atomic)")
	}
	if c.MaxMsgsPerSubject > 0 {
		why = append(why, "it limits messages per subject")
	}
	if c.AllowMsgTTL || c.SubjectDeleteMarkerTTL > 0 {
		why = append(why, "it allows per-message TTLs")
	}
	if c.AllowRollup {
		why = append(why, "it allows rollups")
	}
	if c.Mirror != nil || len(c.Sources) > 0 {
		why = append(why, "it mirrors or sources other streams")
	}
	if c.Sealed {
		why = append(why, "it is sealed")
	}
	if why == nil {
		return nil
	}
	return fmt.Errorf("stream %q cannot hold ringcast's log (its sequences could have holes, or it takes other messages): %v", c.Name, why)
}

// openJetStreamLog connects to NATS and opens the stream, creating it when
// missing.
func openJetStreamLog(cfg *Config) (*jetStreamLog, error) {
	l := &jetStreamLog{name: cfg.NATSStream, maxBatch: cfg.NATSMaxBatch, atomic: !cfg.NATSPipelinedBatches, log: cfg.Logger}
	nc, err := nats.Connect(cfg.NATSURL,
		nats.Name("ringcast"),
		nats.MaxReconnects(-1), // reconnect forever
		nats.ReconnectWait(250*time.Millisecond),
		// No reconnect buffer: a publish made while disconnected fails at
		// once, instead of being sent later, after its caller got an error
		// and may have retried.
		nats.ReconnectBufSize(-1),
		nats.Timeout(cfg.NATSPublishTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			l.log.Warn("event log: disconnected from NATS", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			l.log.Info("event log: reconnected to NATS", "url", c.ConnectedUrlRedacted())
			if f := l.fol.Load(); f != nil {
				f.reconnected()
			}
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", cfg.NATSURL, err)
	}
	l.nc = nc
	l.js, err = jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*cfg.NATSPublishTimeout+5*time.Second)
	defer cancel()
	st, err := l.js.Stream(ctx, l.name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = l.js.CreateStream(ctx, streamConfig(cfg))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another node was first
			st, err = l.js.Stream(ctx, l.name)
		}
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open stream %q: %w", l.name, err)
	}
	info := st.CachedInfo()
	if err := checkStream(&info.Config); err != nil {
		nc.Close()
		return nil, err
	}
	ep := logEpoch(info.Created)
	l.ep.Store(&ep)
	return l, nil
}

// logEpoch derives the epoch from the stream's creation time: [0-9a-z], 13
// characters at most.
func logEpoch(created time.Time) string { return strconv.FormatInt(created.UnixNano(), 36) }

func (l *jetStreamLog) epoch() string   { return *l.ep.Load() }
func (l *jetStreamLog) connected() bool { return l.nc.IsConnected() }
func (l *jetStreamLog) close()          { l.nc.Close() }

func (l *jetStreamLog) bounds(ctx context.Context) (uint64, uint64, error) {
	if !l.nc.IsConnected() {
		return 0, 0, ErrLogUnavailable
	}
	// A resume asks for the bounds with its stream's context, which has no
	// deadline: bound the request as JS4 bounds a replay's, so that a
	// failover ends the resume (the client comes back) instead of holding it
	// for nats.go's default timeout.
	ctx, cancel := context.WithTimeout(ctx, followRequestTimeout)
	defer cancel()
	st, err := l.js.Stream(ctx, l.name)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrLogUnavailable, err)
	}
	info := st.CachedInfo()
	if e := logEpoch(info.Created); e != l.epoch() {
		return 0, 0, fmt.Errorf("%w: stream %q (epoch %s, was %s)", errLogRecreated, l.name, e, l.epoch())
	}
	first := info.State.FirstSeq
	if first == 0 { // never written: the first append gets 1
		first = info.State.LastSeq + 1
	}
	return first, info.State.LastSeq, nil
}

// renewEpoch takes the epoch of the stream as it is now, after it was recreated
// (L3), once it is still one a ringcast log can use.
func (l *jetStreamLog) renewEpoch(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, followRequestTimeout)
	defer cancel()
	st, err := l.js.Stream(ctx, l.name)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrLogUnavailable, err)
	}
	info := st.CachedInfo()
	if err := checkStream(&info.Config); err != nil {
		return "", err
	}
	ep := logEpoch(info.Created)
	l.ep.Store(&ep)
	return ep, nil
}

// pubAck is a JetStream acknowledgement, with a batch's fields and an error.
type pubAck struct {
	Seq   uint64 `json:"seq"`
	Count uint64 `json:"count"`
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

func (l *jetStreamLog) append(ctx context.Context, key string, recs []logRecord) (uint64, error) {
	if !l.nc.IsConnected() {
		return 0, fmt.Errorf("%w: not connected (%s)", ErrLogUnavailable, l.nc.Status())
	}
	if len(recs) > l.maxBatch {
		return 0, fmt.Errorf("%w: %d events, the limit is %d (NATSMaxBatch: the NATS server's jetstream max_batch_size)", ErrBatchTooLarge, len(recs), l.maxBatch)
	}
	if !l.atomic && len(recs) > 1 {
		return 0, errNotAtomic
	}
	if len(recs) == 1 {
		m := msg(&recs[0], key, true)
		ack, err := l.js.PublishMsg(ctx, m, jetstream.WithRetryAttempts(0))
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrLogUnavailable, err)
		}
		return ack.Sequence, nil // on a duplicate, the original's
	}
	id := nuid.Next()
	last := len(recs) - 1
	for i := range recs[:last] {
		m := msg(&recs[i], key, i == 0)
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if err := l.nc.PublishMsg(m); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrLogUnavailable, err)
		}
	}
	m := msg(&recs[last], key, false)
	m.Header.Set(hdrBatchID, id)
	m.Header.Set(hdrBatchSeq, strconv.Itoa(last+1))
	m.Header.Set(hdrBatchEnd, "1") // the commit: the one acknowledged
	resp, err := l.nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrLogUnavailable, err)
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, fmt.Errorf("%w: unreadable acknowledgement %q", ErrLogUnavailable, resp.Data)
	}
	switch {
	case ack.Error != nil && ack.Error.ErrCode == jsErrBatchDuplicate:
		return 0, errDuplicateBatch
	case ack.Error != nil && ack.Error.ErrCode == jsErrBatchTooLarge:
		return 0, fmt.Errorf("%w: %s", ErrBatchTooLarge, ack.Error.Description)
	case ack.Error != nil:
		return 0, fmt.Errorf("%w: %s (JetStream error %d)", ErrLogUnavailable, ack.Error.Description, ack.Error.ErrCode)
	case ack.Count != uint64(len(recs)) || ack.Seq < ack.Count:
		return 0, fmt.Errorf("%w: acknowledgement of %d messages at %d for a batch of %d", ErrLogUnavailable, ack.Count, ack.Seq, len(recs))
	}
	return ack.Seq - ack.Count + 1, nil
}

// msg builds the message of r, with the idempotency key when it is a
// batch's first.
func msg(r *logRecord, key string, first bool) *nats.Msg {
	m := nats.NewMsg(topicSubject(r.topic))
	m.Data = r.body
	if first && key != "" {
		m.Header.Set(jetstream.MsgIDHeader, key)
	}
	return m
}

// followHeartbeat is the follower's idle heartbeat (nats.go's default for
// an ordered consumer is 5 s).
const followHeartbeat = time.Second

// followRequestTimeout bounds each request that creates the follower's
// consumer, and followRetry is the wait before the next one: a request sent
// while the cluster elects new leaders may go unanswered, and the follower
// stands still until it gives up on it.
const (
	followRequestTimeout = time.Second
	followRetry          = 100 * time.Millisecond
	reopenLogEvery       = 50 // tries between two warnings of a follower that cannot create its consumer
)

// readerConfig is the consumer a follower (JS1) or a replay (JS3) reads: one
// of its own, from seq from on, on filters (the whole stream when empty),
// without acknowledgements. It lives on one server, in memory: nothing of it
// needs to survive that server, since its reader recreates it (JS1) or ends
// (JS3) when it is gone. inactive removes one its reader dropped.
func readerConfig(name string, from uint64, inactive time.Duration, filters []string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Name:              name,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		FilterSubjects:    filters,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: inactive,
		Replicas:          1,
		MemoryStorage:     true,
	}
}

// jsFollower reads the whole stream from a sequence on, in order, through
// one pull consumer at a time, as nats.go's ordered consumer does, but
// recreating it itself (JS1, JS2).
type jsFollower struct {
	l      *jetStreamLog
	apply  func([]logEntry)
	prefix string
	serial int
	next   uint64 // JS1

	ctx context.Context // cancelled by stop (JS2)

	mu   sync.Mutex
	drop context.CancelFunc // ends the current consumer's reads (a reconnection)
}

func (l *jetStreamLog) follow(from uint64, apply func([]logEntry)) (func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &jsFollower{l: l, apply: apply, prefix: "ringcast-follow-" + nuid.Next(), next: from, ctx: ctx}
	it, rctx, err := f.consume(10 * time.Second)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %v", ErrLogUnavailable, err)
	}
	l.fol.Store(f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for it != nil {
			f.read(it, rctx)
			it.Stop()
			it, rctx = f.reopen()
		}
	}()
	return func() { l.fol.CompareAndSwap(f, nil); cancel(); <-done }, nil
}

// consume creates a consumer from f.next and starts reading it; rctx ends
// with stop or the next reconnection.
func (f *jsFollower) consume(timeout time.Duration) (jetstream.MessagesContext, context.Context, error) {
	f.serial++
	rctx, drop := context.WithCancel(f.ctx)
	f.mu.Lock()
	f.drop = drop
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(rctx, timeout)
	defer cancel()
	// JS1: only on the log it follows. A recreated stream has the same
	// name and starts again at 1: a consumer from f.next would feed this
	// log's successors to the node as if they were its own.
	st, err := f.l.js.Stream(ctx, f.l.name)
	if err == nil && logEpoch(st.CachedInfo().Created) != f.l.epoch() {
		err = errLogRecreated
	}
	if err != nil {
		drop()
		return nil, nil, err
	}
	// A consumer dropped (JS1) goes once inactive that long.
	cons, err := st.CreateOrUpdateConsumer(ctx, readerConfig(f.prefix+"_"+strconv.Itoa(f.serial), f.next, 5*time.Minute, nil))
	if err != nil {
		drop()
		return nil, nil, err
	}
	// A short heartbeat: the consumer lives on one NATS server, and when
	// that server goes away while the client stays connected to another,
	// the client learns it only from missing heartbeats (nats.go ignores
	// the server's "409 Server Shutdown"), after two of them.
	it, err := cons.Messages(jetstream.PullMaxMessages(1024), jetstream.PullHeartbeat(followHeartbeat),
		jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		drop()
		return nil, nil, err
	}
	return it, rctx, nil
}

// reconnected makes the follower drop its consumer (JS1): the pull request
// it had parked on the previous server is gone, and so may the consumer be.
func (f *jsFollower) reconnected() {
	f.mu.Lock()
	if f.drop != nil {
		f.drop()
	}
	f.mu.Unlock()
}

// reopen creates a consumer from f.next, again after each failure, until
// it succeeds or stop; it returns nil after stop.
func (f *jsFollower) reopen() (jetstream.MessagesContext, context.Context) {
	for tries := 1; f.ctx.Err() == nil; tries++ {
		it, rctx, err := f.consume(followRequestTimeout)
		if err == nil {
			return it, rctx
		}
		// While NATS is away this fails every followRetry: say so at the
		// first try and then every few seconds, not ten times a second.
		if f.ctx.Err() == nil && tries%reopenLogEvery == 1 {
			f.l.log.Warn("event log: follower: creating the consumer", "from", f.next, "tries", tries, "err", err)
		}
		select {
		case <-f.ctx.Done():
		case <-time.After(followRetry):
		}
	}
	return nil, nil
}

// read applies what it delivers until it fails (JS1) or rctx ends.
func (f *jsFollower) read(it jetstream.MessagesContext, rctx context.Context) {
	var batch []logEntry
	defer func() {
		if len(batch) > 0 && f.ctx.Err() == nil {
			f.apply(batch)
		}
	}()
	for dseq := uint64(1); ; dseq++ {
		msg, err := it.Next(jetstream.NextContext(rctx))
		if err != nil {
			if rctx.Err() == nil {
				f.l.log.Warn("event log: follower: recreating the consumer", "from", f.next, "err", err)
			}
			return
		}
		md, err := msg.Metadata()
		if err != nil || md.Sequence.Consumer != dseq {
			f.l.log.Warn("event log: follower: recreating the consumer", "from", f.next, "err", err, "delivered", dseq)
			return
		}
		e, err := entryOf(msg)
		if err != nil {
			f.l.log.Error("event log: follower", "err", err)
			continue
		}
		f.next = e.seq + 1
		batch = append(batch, e)
		if e.pending == 0 || len(batch) == batchReads {
			f.apply(batch)
			clear(batch)
			batch = batch[:0]
		}
	}
}

// entryOf reads an entry from a message of the stream. A message on a
// subject topicSubject cannot have written keeps its place with an empty
// topic (the follower gives it an id and no event).
func entryOf(msg jetstream.Msg) (logEntry, error) {
	md, err := msg.Metadata()
	if err != nil {
		return logEntry{}, err
	}
	topic, _ := subjectTopic(msg.Subject())
	e := logEntry{seq: md.Sequence.Stream, topic: topic, body: msg.Data(), pending: md.NumPending}
	if h := msg.Headers(); h != nil {
		e.key = h.Get(jetstream.MsgIDHeader)
	}
	return e, nil
}

// replayInactive: the server removes a replay's consumer once no fetch came
// for that long, the backstop for one close does not delete (JS4: a failed
// replay's, whose server may not answer). A replay fetches again once its
// client took what it fetched before, so it is a few times the default
// WriteTimeout; a client slower still has its replay end (JS3) and resumes.
const replayInactive = 30 * time.Second

// replayHeartbeat is a replay fetch's idle heartbeat: a fetch asks only for
// entries already stored, which the consumer's server sends at once, so two
// missing heartbeats mean that server went away; they end the fetch before
// its bound (followRequestTimeout) does.
const replayHeartbeat = followRequestTimeout / 4

// replayRetry is the pause before a replay's first fetch is sent again
// when nobody answered it (jsReplay.next): short, since the consumer's
// interest is on its way.
const replayRetry = 10 * time.Millisecond

func (l *jetStreamLog) replay(ctx context.Context, from uint64, topics []string) (logReplay, error) {
	var filters []string
	for _, t := range topics {
		filters = append(filters, topicSubject(t))
	}
	r := &jsReplay{l: l, reconnects: l.nc.Stats().Reconnects}
	if !l.nc.IsConnected() {
		return nil, fmt.Errorf("%w: not connected (%s)", ErrLogUnavailable, l.nc.Status())
	}
	cctx, cancel := context.WithTimeout(ctx, followRequestTimeout) // JS4
	defer cancel()
	// One unanswered create may have made the consumer all the same:
	// replayInactive removes it.
	cons, err := l.js.CreateConsumer(cctx, l.name, readerConfig("ringcast-replay-"+nuid.Next(), from, replayInactive, filters))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: creating the replay's consumer: %v", ErrLogUnavailable, err)
	}
	r.cons = cons
	r.pending = cons.CachedInfo().NumPending
	return r, nil
}

// jsReplay is one client's replay through a consumer of its own (JS3, JS4).
type jsReplay struct {
	l          *jetStreamLog
	cons       jetstream.Consumer
	reconnects uint64 // the connection's count when the consumer was created
	delivered  uint64 // the last delivery sequence used (JS3)
	pending    uint64 // entries of the filter stored after the last one delivered, when it was
	err        error  // the replay failed (JS3): every next returns it
}

func (r *jsReplay) next(ctx context.Context, max int) ([]logEntry, bool, error) {
	if r.err != nil {
		return nil, false, r.err
	}
	if r.pending == 0 {
		return nil, true, nil
	}
	// JS3: a reconnection may have lost what the consumer sent meanwhile,
	// or the consumer with the server it lived on.
	if !r.l.nc.IsConnected() || r.l.nc.Stats().Reconnects != r.reconnects {
		r.err = fmt.Errorf("%w: replay: the connection to NATS was lost (%s)", ErrLogUnavailable, r.l.nc.Status())
		return nil, false, r.err
	}
	if err := ctx.Err(); err != nil { // JS4: no new request
		return nil, false, err
	}
	// Only what is stored already, so the fetch is answered at once, whole.
	n := int(min(uint64(max), r.pending))
	out, err := r.fetch(ctx, n)
	// A consumer just created may not be known yet on the server this node
	// is connected to (its interest travels the cluster's routes apart from
	// the create's answer): until it delivered anything, a fetch nobody
	// answered is sent again, for as long as one request may take (JS4).
	// Nobody read the unanswered one, so nothing was delivered for it.
	for until := time.Now().Add(followRequestTimeout); errors.Is(err, nats.ErrNoResponders) && r.delivered == 0 && time.Now().Before(until); {
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(replayRetry):
		}
		out, err = r.fetch(ctx, n)
	}
	if err != nil {
		return r.fail(out, err)
	}
	return out, r.pending == 0, nil
}

// fetch asks the consumer for n entries in one request, bounded by
// followRequestTimeout but not by ctx once sent (JS4), and returns those
// delivered in order (JS3), with what stopped it short.
func (r *jsReplay) fetch(ctx context.Context, n int) ([]logEntry, error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), followRequestTimeout)
	defer cancel() // also ends a fetch left unread below
	batch, err := r.cons.Fetch(n, jetstream.FetchContext(fctx), jetstream.FetchHeartbeat(replayHeartbeat))
	if err != nil {
		return nil, err
	}
	if h := r.l.testHookFetched; h != nil {
		h()
	}
	out := make([]logEntry, 0, n)
	for msg := range batch.Messages() {
		md, err := msg.Metadata()
		if err != nil {
			return out, err
		}
		if md.Sequence.Consumer != r.delivered+1 { // JS3
			return out, fmt.Errorf("delivery sequence %d after %d", md.Sequence.Consumer, r.delivered)
		}
		e, err := entryOf(msg)
		if err != nil {
			return out, err
		}
		r.delivered++
		r.pending = md.NumPending
		out = append(out, e)
	}
	if err := batch.Error(); err != nil {
		return out, err
	}
	if len(out) == 0 { // it had entries pending: they are gone, or it is
		return nil, fmt.Errorf("nothing delivered of %d entries pending", r.pending)
	}
	return out, nil
}

// fail ends the replay (JS3). What was delivered in order before the failure
// is returned; the next call returns the error. A fetch does not depend on
// its caller's context (JS4), so its failure is the replay's.
func (r *jsReplay) fail(out []logEntry, err error) ([]logEntry, bool, error) {
	r.err = fmt.Errorf("%w: replay: %v", ErrLogUnavailable, err)
	r.l.log.Warn("event log: a replay failed; its client resumes", "delivered", r.delivered, "err", err)
	if len(out) > 0 {
		return out, false, nil
	}
	return nil, false, r.err
}

// close deletes the consumer, unless the replay failed (JS4: its server may
// not answer; replayInactive removes it).
func (r *jsReplay) close() {
	if r.err != nil || !r.l.nc.IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), followRequestTimeout) // JS4
	defer cancel()
	_ = r.l.js.DeleteConsumer(ctx, r.l.name, r.cons.CachedInfo().Name)
}

// errNotAtomic: append takes one event at a time without atomic batches
// (NATSPipelinedBatches); appendEach takes the batch.
var errNotAtomic = errors.New("transport: batches are pipelined, not atomic")

// appendEach stores recs as separate messages, all in flight at once, and
// returns each one's sequence: far cheaper than an atomic batch on a
// single-replica file store (which nats-server stages in a file store of
// its own, synced, per batch), but neither contiguous nor all or nothing:
// after a failure a prefix or any subset may be stored. With a key, message
// i carries the id "<key>" (i = 0) or "<key>/<i>", so a retry stores only
// what is missing and gets every original sequence back (L2, per message).
func (l *jetStreamLog) appendEach(ctx context.Context, key string, recs []logRecord) ([]uint64, error) {
	if !l.nc.IsConnected() {
		return nil, fmt.Errorf("%w: not connected (%s)", ErrLogUnavailable, l.nc.Status())
	}
	if len(recs) > l.maxBatch {
		return nil, fmt.Errorf("%w: %d events, the limit is %d (NATSMaxBatch)", ErrBatchTooLarge, len(recs), l.maxBatch)
	}
	futures := make([]jetstream.PubAckFuture, len(recs))
	for i := range recs {
		m := msg(&recs[i], key, i == 0)
		if key != "" && i > 0 {
			m.Header.Set(jetstream.MsgIDHeader, key+"/"+strconv.Itoa(i))
		}
		f, err := l.js.PublishMsgAsync(m, jetstream.WithRetryAttempts(0))
		if err != nil {
			return nil, fmt.Errorf("%w: %v (%d of %d events sent)", ErrLogUnavailable, err, i, len(recs))
		}
		futures[i] = f
	}
	seqs := make([]uint64, len(recs))
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			seqs[i] = ack.Sequence
		case err := <-f.Err():
			return nil, fmt.Errorf("%w: event %d: %v", ErrLogUnavailable, i+1, err)
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: event %d not acknowledged: %v", ErrLogUnavailable, i+1, ctx.Err())
		}
	}
	return seqs, nil
}
