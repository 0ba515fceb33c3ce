package loadgen

import "testing"

// TestOneNoticeCoversEveryTopic: a stream of all topics lags as a whole, so
// one lagged notice announces gaps on several topics; each topic's first gap
// after it is notified, and a later gap with no notice before it is silent.
func TestOneNoticeCoversEveryTopic(t *testing.T) {
	env := &subscriberEnv{measure: new(measurement), coll: newCollector(), intervalNs: 1e9}
	s := &subscriber{env: env, allTopics: true, next: make([]uint64, 2), noticesSeen: make([]uint64, 2), hist: newPacked()}
	event := func(topic uint32, seq uint64) {
		s.onEvent(&Event{Type: messageType, Data: AppendPayload(nil, Stamp{Topic: topic, Seq: seq, IntendedNs: 1}, 64)})
	}
	event(0, 0)
	event(1, 0)
	s.onEvent(&Event{Type: []byte("lagged"), Data: []byte(`{"skipped":3}`)})
	event(0, 2) // skipped 1 of topic 0
	event(1, 3) // and 2 of topic 1: the same notice
	event(0, 3)
	event(0, 5) // skipped 4 with no notice: silent
	if s.gaps != 3 || s.gapEvents != 4 || s.silentEvents != 1 || s.skipped != 3 || s.delivered != 6 {
		t.Fatalf("gaps %d (events %d, silent %d), skipped %d, delivered %d; want 3 (4, 1), 3, 6",
			s.gaps, s.gapEvents, s.silentEvents, s.skipped, s.delivered)
	}
}
