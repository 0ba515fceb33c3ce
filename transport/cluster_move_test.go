package transport

// Clients moved between the nodes of a cluster many times while events are
// published continuously to varying nodes: issue 15's goal "a client moved
// between nodes 1,000 times under load loses nothing and sees nothing twice",
// for a client of some topics and one of all topics, connected at once.
//
// Invariants checked:
//   M1. The ids each client receives, over all its connections, are
//       exactly the ids published on its topics, in publish order: no gap,
//       no duplicate, nothing of another topic, no reset.
//   M2. After its last move each receives everything published up to the
//       moment the publisher stopped, and then nothing more.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ringcast/ringcast/transport/internal/eventid"
)

// moveCount is how many times TestClusterClientMoves moves its client:
// RINGCAST_MOVES overrides it.
func moveCount(t *testing.T) int {
	if s := os.Getenv("RINGCAST_MOVES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("RINGCAST_MOVES=%q: want a positive count", s)
		}
		return n
	}
	return 1000
}

// movePublisher publishes single events at a steady rate, to nodes in turn
// and on topics drawn at random, and records every id it got back, in
// order.
type movePublisher struct {
	nodes  []*testServer
	topics []string
	rate   float64 // events per second
	rnd    *rand.Rand
	stop   chan struct{}
	done   chan struct{}

	mu   sync.Mutex
	ids  []string // in publish order: one publisher, so in seq order too
	err  error
	took time.Duration
}

func (p *movePublisher) run() {
	defer close(p.done)
	start := time.Now()
	defer func() { p.took = time.Since(start) }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		// Catch up with the schedule, so the rate holds whatever a publish costs.
		for due := int(time.Since(start).Seconds() * p.rate); n < due && !p.stopped(); n++ {
			ids, err := p.nodes[n%len(p.nodes)].Publish(Event{Topic: p.topics[p.rnd.IntN(len(p.topics))], Data: []byte(strconv.Itoa(n))})
			p.mu.Lock()
			p.ids = append(p.ids, ids...)
			if err != nil && p.err == nil {
				p.err = fmt.Errorf("publish %d: %w", n, err)
			}
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

func (p *movePublisher) stopped() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

func (p *movePublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ids)
}

// moveClient is one client of TestClusterClientMoves: its topics (nil for
// all), what it received, and where its resumes landed.
type moveClient struct {
	name   string
	topics []string
	last   string   // its Last-Event-ID
	got    []string // M1: every id received, in order
	c      *sseClient

	ring, fromLog, ahead int
}

// wants reports whether the client subscribes to topic.
func (m *moveClient) wants(topic string) bool {
	return m.topics == nil || slices.Contains(m.topics, topic)
}

// connect resumes the client on node with its Last-Event-ID, counting where
// the resume lands: the node's ring, the log, or ahead of its follower.
func (m *moveClient) connect(t *testing.T, node *testServer) {
	e, seq := node.cluster.eng.cur.Load(), seqOf(t, m.last)
	switch {
	case seq > e.cursorSeq():
		m.ahead++
	case !servesFromRing(e, seq):
		m.fromLog++
	default:
		m.ring++
	}
	m.c = dial(t, node.addr, eventsPath(m.topics...), dialOpt{lastID: m.last})
}

// read takes k events from the client's connection, or, for k < 0, every
// event up to target.
func (m *moveClient) read(t *testing.T, move, k int, target uint64) {
	for n := 0; n < k || k < 0 && seqOf(t, m.last) < target; n++ {
		ev := m.c.next(1, 10*time.Second)[0]
		if ev.Type != "message" {
			t.Fatalf("move %d, %s: event %+v, want a message", move, m.name, ev)
		}
		m.got = append(m.got, ev.LastEventID)
		m.last = ev.LastEventID
	}
}

// TestClusterClientMoves: two clients, one of topics a and b (the publisher
// also publishes c, topics drawn at random) and one of all topics, each
// connect to a node (in turn, never both to the same one) with their
// Last-Event-ID, read a few events (none, one, or more), disconnect and move
// on, while events are published at a steady rate to all three nodes. The
// nodes' rings are small, so a client that was away resumes from the log,
// and one that moves to a node whose follower is behind waits for it.
func TestClusterClientMoves(t *testing.T) {
	moves := moveCount(t)
	n := startNATS(t)
	var nodes []*testServer
	for range 3 {
		nodes = append(nodes, startNode(t, n, Config{Capacity: 512, TopicCapacity: 64}))
	}
	// The clients' first connections resume too: from before the first
	// event published, so everything published is for them to receive.
	first := nodes[0].publish(Event{Topic: "c", Data: []byte("start")})[0]
	clients := []*moveClient{{name: "the client of a and b", topics: []string{"a", "b"}, last: first}, {name: "the client of all topics", last: first}}
	seed := uint64(time.Now().UnixNano())
	t.Logf("topics drawn with seed %d", seed)
	pub := &movePublisher{
		nodes: nodes, topics: []string{"a", "b", "c"}, rate: 1500, rnd: rand.New(rand.NewPCG(seed, 0)),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go pub.run()
	stopped := false
	stopPub := func() {
		if !stopped {
			stopped = true
			close(pub.stop)
			<-pub.done
		}
	}
	defer stopPub()

	// A few events a connection, none now and then; every 20th move (-1)
	// catches up with what the node had applied when the client connected.
	reads := []int{0, 1, 3, 1, 5, 2, 8, 0, 13, 2}
	start := time.Now()
	for i := range moves {
		if i%40 == 10 {
			// Away for a while: the next resumes are older than the rings
			// and come from the log until the clients have caught up (at
			// i%20 == 19).
			mark := pub.count()
			waitFor(t, "the publisher to publish 300 more events", 10*time.Second, func() bool { return pub.count() >= mark+300 })
		}
		// Both clients are connected at once, to different nodes, before
		// either reads.
		targets := make([]uint64, len(clients))
		for j, m := range clients {
			node := nodes[(i+j)%len(nodes)]
			m.connect(t, node)
			targets[j] = node.cluster.f.applied.Load()
		}
		for j, m := range clients {
			k := reads[(i+j)%len(reads)]
			if i%20 == 19 {
				k = -1
			}
			m.read(t, i, k, targets[j])
		}
		for _, m := range clients {
			m.c.conn.Close()
		}
	}
	moved := time.Since(start)

	stopPub()
	pub.mu.Lock()
	published, err := pub.ids, pub.err
	pub.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// One more, so that each last connection has at least one event to wait
	// for before it checks that nothing else comes.
	published = append(published, nodes[1].publish(Event{Topic: "a", Data: []byte("end")})...)
	for j, m := range clients {
		var want []string
		for _, id := range published {
			if _, _, topic, _ := eventid.Parse(id); m.wants(topic) {
				want = append(want, id)
			}
		}
		checkMoved(t, m.name, m.got, want)
		if m.fromLog == 0 {
			t.Fatalf("no resume of %s came from the log: the test no longer covers the replay", m.name)
		}
		// M2: the client's last connection gets the rest, then nothing more.
		m.connect(t, nodes[(moves+j)%len(nodes)])
		m.read(t, moves, len(want)-len(m.got), 0)
		m.c.expectNothing(50 * time.Millisecond)
		checkMoved(t, m.name, m.got, want)
		t.Logf("%s: %d resumes in the ring, %d from the log, %d ahead of the node; %d events received exactly",
			m.name, m.ring, m.fromLog, m.ahead, len(want))
	}
	t.Logf("%d moves of %d clients in %v; %d events published at %.0f/s",
		moves, len(clients), moved.Round(time.Millisecond), len(published), float64(len(published))/pub.took.Seconds())
}

// checkMoved checks M1: got, what the client named name received, is a
// prefix of want.
func checkMoved(t *testing.T, name string, got, want []string) {
	t.Helper()
	for i := range got {
		switch {
		case i >= len(want):
			t.Fatalf("M1: %s received %d events, %d published on its topics; from the %dth on: %q", name, len(got), len(want), i, got[i:min(i+5, len(got))])
		case got[i] != want[i]:
			t.Fatalf("M1: event %d %s received is %s, want %s (the one before: %s)", i, name, got[i], want[i], got[max(i-1, 0)])
		}
	}
}
