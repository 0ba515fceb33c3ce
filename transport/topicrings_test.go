package transport

import (
	"strconv"
	"testing"
	"time"
)

// Subscribing to topics nobody published to costs nothing lasting and takes
// no topic's ring: a real topic published afterwards still gets one, and a
// resume far beyond the global ring replays from it (issue 17, item 4). A
// subscriber that came before its topic existed moves to the topic's ring
// once the topic has one.
func TestTopicSquattersTakeNoRings(t *testing.T) {
	ts := startServer(t, Config{Capacity: 1024, TopicCapacity: 4096, MaxTopicRings: 4, KeepAlive: 50 * time.Millisecond})
	e := ts.eng.(*ringEngine)
	var squatters []*sseClient
	for i := range 100 {
		squatters = append(squatters, dial(t, ts.addr, eventsPath("made-up-"+strconv.Itoa(i)), dialOpt{}))
	}
	early := dial(t, ts.addr, eventsPath("real"), dialOpt{})
	waitFor(t, "the subscriptions", 5*time.Second, func() bool { return ts.readers() == 101 })
	if n := ts.eng.topicCount(); n != 0 {
		t.Errorf("%d topics after subscriptions alone; want 0", n)
	}

	first := ts.publish(Event{Topic: "real", Data: []byte("r0")})[0]
	if evs := early.next(1, 5*time.Second); evs[0].LastEventID != first {
		t.Fatalf("the early subscriber got %s", fmtEvents(evs))
	}
	waitFor(t, "the early subscriber to move to the topic's ring", 5*time.Second, func() bool {
		return topicRingReaders(e, "real") == 1
	})
	ids := append([]string{first}, ts.publishN("real", 2999, "r")...)

	// 2,900 events back: far beyond the global ring (1024), within the topic's.
	c := dial(t, ts.addr, eventsPath("real"), dialOpt{lastID: ids[99]})
	evs := c.next(2900, 10*time.Second)
	if evs[0].LastEventID != ids[100] || evs[2899].LastEventID != ids[2999] {
		t.Fatalf("the resume 2,900 back got %s ... %s; want %s ... %s (a reset means a squatter took the ring)",
			fmtEvents(evs[:1]), fmtEvents(evs[2899:]), ids[100], ids[2999])
	}
	if evs := early.next(2999, 10*time.Second); evs[2998].LastEventID != ids[2999] {
		t.Fatalf("the early subscriber's last event: %s", fmtEvents(evs[2998:]))
	}

	for _, s := range squatters {
		s.conn.Close()
	}
	waitFor(t, "the squatters to go", 5*time.Second, func() bool { return ts.readers() == 2 })
	if n := ts.eng.topicCount(); n != 1 {
		t.Errorf("%d topics after the squatters left; want 1, the real one", n)
	}
}

// topicRingReaders counts the readers of topic's own ring, -1 when it has none.
func topicRingReaders(e *ringEngine, topic string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	ts := e.topics[topic]
	if ts == nil || ts.ring == nil {
		return -1
	}
	return ts.ring.Readers()
}

// When every topic ring is taken, a new topic takes the ring of the least
// recently published topic that nobody reads (T4); a topic with a reader
// keeps its ring, and the one that lost it is still served, from the global
// ring, with a reset for a resume beyond it.
func TestIdleTopicRingsReclaimed(t *testing.T) {
	ts := startServer(t, Config{Capacity: 64, TopicCapacity: 1024, MaxTopicRings: 2, KeepAlive: 50 * time.Millisecond})
	e := ts.eng.(*ringEngine)
	oldIDs := ts.publishN("old", 10, "o")
	ts.publishN("read", 10, "r")
	dial(t, ts.addr, eventsPath("read"), dialOpt{}) // holds "read"'s ring
	waitFor(t, "the reader on its topic's ring", 5*time.Second, func() bool { return topicRingReaders(e, "read") == 1 })
	ts.publishN("old", 1, "o-again") // "old" is now the most recently published, but nobody reads it
	newIDs := ts.publishN("new", 200, "n")

	if topicRingReaders(e, "new") < 0 || topicRingReaders(e, "read") != 1 || topicRingReaders(e, "old") != -1 {
		t.Fatalf("rings: new %d, read %d, old %d; want new and read to hold one, old none",
			topicRingReaders(e, "new"), topicRingReaders(e, "read"), topicRingReaders(e, "old"))
	}
	if got := ts.metric(mRingsReclaimed); got != 1 {
		t.Errorf("%s = %v; want 1", mRingsReclaimed, got)
	}
	// "new" resumes from its own ring, beyond the global ring (64).
	c := dial(t, ts.addr, eventsPath("new"), dialOpt{lastID: newIDs[0]})
	if evs := c.next(199, 5*time.Second); evs[0].LastEventID != newIDs[1] || evs[198].LastEventID != newIDs[199] {
		t.Fatalf("resume on the new topic: %s ... %s", fmtEvents(evs[:1]), fmtEvents(evs[198:]))
	}
	// "old" is served from the global ring: live events, a reset for the past.
	old := dial(t, ts.addr, eventsPath("old"), dialOpt{lastID: oldIDs[0]})
	if evs := old.next(1, 5*time.Second); evs[0].Type != EventReset {
		t.Fatalf("resume on the reclaimed topic: %s; want a reset", fmtEvents(evs))
	}
	id := ts.publish(Event{Topic: "old", Data: []byte("live")})[0]
	if evs := old.next(1, 5*time.Second); evs[0].LastEventID != id {
		t.Fatalf("the reclaimed topic's live event: %s", fmtEvents(evs))
	}
}
