package transport

import (
	"io"

	"github.com/VictoriaMetrics/metrics"
)

// Metric names, in Prometheus text format via VictoriaMetrics/metrics. Each
// Server has its own metrics.Set, so several servers (tests, an embedding
// program) never collide; GET /metrics writes it with the process metrics.
//
// Nothing here is updated per event per client. Counters are added to once
// per publish call or once per write (a batch); the histograms, which take a
// mutex per update, are updated once per publish call and once per write.
//
// The histograms are Prometheus histograms (cumulative _bucket series with an
// le label, _sum, _count), which Prometheus' histogram_quantile, Grafana and
// VictoriaMetrics all read; VictoriaMetrics' own vmrange buckets only the
// latter does. Their bounds are fixed below, chosen for what each measures.
const (
	mEventsPublished = "ringcast_events_published_total"
	mEventsDelivered = "ringcast_events_delivered_total"
	mConnections     = "ringcast_sse_connections"
	mConnsOpened     = "ringcast_sse_connections_opened_total"
	mLaggedClients   = "ringcast_lagged_clients_total"
	mLaggedEvents    = "ringcast_lagged_events_total"
	mDroppedEvents   = "ringcast_dropped_events_total"
	mDisconnects     = "ringcast_disconnects_total"
	mResets          = "ringcast_resets_total"
	mReplayed        = "ringcast_replayed_events_total"
	mDebounced       = "ringcast_debounced_events_total"
	mPublishDuration = "ringcast_publish_duration_seconds"
	mWriteDuration   = "ringcast_write_duration_seconds"
	mBatchSize       = "ringcast_batch_events"
	mBatchBytes      = "ringcast_batch_bytes"
	mMaxLag          = "ringcast_max_reader_lag"
	mTopics          = "ringcast_topics"
	mRejected        = "ringcast_publish_rejected_total"
	mKeepAlives      = "ringcast_keepalives_total"
	mTopicFallbacks  = "ringcast_topic_fallbacks_total"
	mBatchWindow     = "ringcast_batch_window_seconds"

	// Departures: the streams whose client's departure the hang-up watcher
	// reports when it happens (hangup_linux.go); the others are noticed at
	// a keep-alive.
	mHangupWatched = "ringcast_sse_connections_hangup_watched"
)

// Reasons a stream ends, the label of ringcast_disconnects_total.
const (
	goneClient       = "client-gone"   // the peer closed, half-closed or reset (the hang-up watcher, or the keep-alive peek)
	goneWriteError   = "write-error"   // a write failed: reset, broken pipe
	goneWriteTimeout = "write-timeout" // a write did not finish within --write-timeout
	goneSlow         = "slow-client"   // --slow-client disconnect
	goneShutdown     = "shutdown"      // the server is stopping
	goneClosed       = "engine-closed" // the engine closed under the stream
	goneExpired      = "token-expired" // its signed token expired (event: expired)
)

// Reasons a publish is rejected, the label of ringcast_publish_rejected_total.
const (
	rejBadRequest   = "bad-request"  // 400: malformed JSON, missing topic, bad field
	rejTooLarge     = "too-large"    // 413
	rejContentType  = "content-type" // 415
	rejUnauthorized = "unauthorized" // 401
	rejUnavailable  = "unavailable"  // 503: shutting down
	rejMethod       = "method"       // 405
)

// Reasons of "event: reset", the label of ringcast_resets_total.
const (
	resetTooOld    = "too-old"
	resetEpoch     = "epoch"
	resetMalformed = "malformed"
	resetTopics    = "topics"
)

// Histogram bounds (le). Durations: 1 µs to 10 s, 1-2.5-5 per decade, so
// that p99 is read to within a factor of 2.5 from a fast loopback write to
// one near the default WriteTimeout (10 s); publish calls take microseconds
// to milliseconds. Events per write: powers of 2 up to 4096 (a write holds
// at most what fits its chunk). Bytes per write: powers of 4 from 64 B to
// 4 MiB.
var (
	durationBuckets = []float64{
		1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
		1e-3, 2.5e-3, 5e-3, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10,
	}
	batchEventBuckets = metrics.ExponentialBuckets(1, 2, 13)
	batchByteBuckets  = metrics.ExponentialBuckets(64, 4, 9)
)

type serverMetrics struct {
	set *metrics.Set

	published, delivered, opened    *metrics.Counter
	laggedClients, laggedEvents     *metrics.Counter
	droppedOldest, droppedNewest    *metrics.Counter
	replayed, debounced, keepAlives *metrics.Counter
	topicFallbacks                  *metrics.Counter
	publishDur, writeDur            *metrics.PrometheusHistogram
	batchSize, batchBytes           *metrics.PrometheusHistogram
	disconnects, resets, rejected   map[string]*metrics.Counter
}

func newServerMetrics(connections, maxLag, topics, batchWindow func() float64) *serverMetrics {
	s := metrics.NewSet()
	m := &serverMetrics{
		set:            s,
		published:      s.NewCounter(mEventsPublished),
		delivered:      s.NewCounter(mEventsDelivered),
		opened:         s.NewCounter(mConnsOpened),
		laggedClients:  s.NewCounter(mLaggedClients),
		laggedEvents:   s.NewCounter(mLaggedEvents),
		droppedOldest:  s.NewCounter(mDroppedEvents + `{reason="drop-oldest"}`),
		droppedNewest:  s.NewCounter(mDroppedEvents + `{reason="drop-newest"}`),
		replayed:       s.NewCounter(mReplayed),
		debounced:      s.NewCounter(mDebounced),
		keepAlives:     s.NewCounter(mKeepAlives),
		topicFallbacks: s.NewCounter(mTopicFallbacks),
		publishDur:     s.NewPrometheusHistogramExt(mPublishDuration, durationBuckets),
		writeDur:       s.NewPrometheusHistogramExt(mWriteDuration, durationBuckets),
		batchSize:      s.NewPrometheusHistogramExt(mBatchSize, batchEventBuckets),
		batchBytes:     s.NewPrometheusHistogramExt(mBatchBytes, batchByteBuckets),
		disconnects:    map[string]*metrics.Counter{},
		resets:         map[string]*metrics.Counter{},
		rejected:       map[string]*metrics.Counter{},
	}
	for _, r := range []string{goneClient, goneWriteError, goneWriteTimeout, goneSlow, goneShutdown, goneClosed, goneExpired} {
		m.disconnects[r] = s.NewCounter(mDisconnects + `{reason="` + r + `"}`)
	}
	for _, r := range []string{resetTooOld, resetEpoch, resetMalformed, resetTopics} {
		m.resets[r] = s.NewCounter(mResets + `{reason="` + r + `"}`)
	}
	for _, r := range []string{rejBadRequest, rejTooLarge, rejContentType, rejUnauthorized, rejUnavailable, rejMethod} {
		m.rejected[r] = s.NewCounter(mRejected + `{reason="` + r + `"}`)
	}
	s.NewGauge(mConnections, connections)
	s.NewGauge(mMaxLag, maxLag)
	s.NewGauge(mTopics, topics)
	s.NewGauge(mBatchWindow, batchWindow)
	return m
}

// write writes the server's metrics followed by the Go runtime and process
// metrics, in Prometheus text format.
func (m *serverMetrics) write(w io.Writer) {
	m.set.WritePrometheus(w)
	metrics.WriteProcessMetrics(w)
}
