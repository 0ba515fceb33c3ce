package transport

// A client moved between the nodes of a cluster many times while events are
// published continuously to varying nodes: issue 15's goal "a client moved
// between nodes 1,000 times under load loses nothing and sees nothing twice".
//
// Invariants checked:
//   M1. The ids the client receives, over all its connections, are exactly
//       the ids published on its topics, in publish order: no gap, no
//       duplicate, nothing of another topic, no reset.
//   M2. After its last move it receives everything published up to the
//       moment the publisher stopped, and then nothing more.

import (
	"fmt"
	"math/rand/v2"
	"os"
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

// TestClusterClientMoves: one client of topics a and b (the publisher also
// publishes c, topics drawn at random) connects to node i%3 with its
// Last-Event-ID, reads a few events (none, one, or more), disconnects and
// moves on, while events are published at a steady rate to all three nodes.
// The nodes' rings are small, so a client that was away resumes from the
// log, and one that moves to a node whose follower is behind waits for it.
func TestClusterClientMoves(t *testing.T) {
	moves := moveCount(t)
	n := startNATS(t)
	var nodes []*testServer
	for range 3 {
		nodes = append(nodes, startNode(t, n, Config{Capacity: 512, TopicCapacity: 64}))
	}
	// The client's first connection resumes too: from before the first
	// event published, so everything published is for it to receive.
	last := nodes[0].publish(Event{Topic: "c", Data: []byte("start")})[0]
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

	path := eventsPath("a", "b")
	var got []string // M1: every id received, in order
	var ring, fromLog, ahead int
	// A few events a connection, none now and then; every 20th move (-1)
	// catches up with what the node had applied when the client connected.
	reads := []int{0, 1, 3, 1, 5, 2, 8, 0, 13, 2}
	start := time.Now()
	for i := range moves {
		node := nodes[i%len(nodes)]
		if i%40 == 10 {
			// Away for a while: the next resumes are older than the rings
			// and come from the log until the client has caught up (at
			// i%20 == 19).
			mark := pub.count()
			waitFor(t, "the publisher to publish 300 more events", 10*time.Second, func() bool { return pub.count() >= mark+300 })
		}
		// Where this resume lands: the ring, the log, or ahead of this
		// node's follower.
		e, seq := node.cluster.eng.cur.Load(), seqOf(t, last)
		where := fmt.Sprintf("seq %d, node ring %d..%d", seq, e.oldestSeq(), e.cursorSeq())
		switch {
		case seq > e.cursorSeq():
			ahead++
		case !servesFromRing(e, seq):
			fromLog++
		default:
			ring++
		}
		c := dial(t, node.addr, path, dialOpt{lastID: last})
		k := reads[i%len(reads)]
		if i%20 == 19 {
			k = -1
		}
		target := node.cluster.f.applied.Load()
		for n := 0; n < k || k < 0 && seqOf(t, last) < target; n++ {
			ev := c.next(1, 10*time.Second)[0]
			if ev.Type != "message" {
				t.Fatalf("move %d on node %d (%s): event %+v, want a message", i, i%len(nodes), where, ev)
			}
			got = append(got, ev.LastEventID)
			last = ev.LastEventID
		}
		c.conn.Close()
	}
	moved := time.Since(start)

	stopPub()
	pub.mu.Lock()
	published, err := pub.ids, pub.err
	pub.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// One more, so that the last connection has at least one event to wait
	// for before it checks that nothing else comes.
	published = append(published, nodes[1].publish(Event{Topic: "a", Data: []byte("end")})...)
	var want []string
	for _, id := range published {
		if _, _, topic, _ := eventid.Parse(id); topic != "c" {
			want = append(want, id)
		}
	}
	checkMoved(t, got, want)
	if fromLog == 0 {
		t.Fatal("no resume came from the log: the test no longer covers the replay")
	}
	// M2: the client's last connection gets the rest, then nothing more.
	c := dial(t, nodes[moves%len(nodes)].addr, path, dialOpt{lastID: last})
	for _, ev := range c.next(len(want)-len(got), 20*time.Second) {
		if ev.Type != "message" {
			t.Fatalf("after the moves: event %+v, want a message", ev)
		}
		got = append(got, ev.LastEventID)
	}
	c.expectNothing(50 * time.Millisecond)
	checkMoved(t, got, want)
	t.Logf("%d moves in %v (%d resumes in the ring, %d from the log, %d ahead of the node); %d events published at %.0f/s, %d on the client's topics, received exactly",
		moves, moved.Round(time.Millisecond), ring, fromLog, ahead, len(published), float64(len(published))/pub.took.Seconds(), len(want))
}

// checkMoved checks M1: got is a prefix of want.
func checkMoved(t *testing.T, got, want []string) {
	t.Helper()
	for i := range got {
		switch {
		case i >= len(want):
			t.Fatalf("M1: received %d events, %d published on the client's topics; from the %dth on: %q", len(got), len(want), i, got[i:min(i+5, len(got))])
		case got[i] != want[i]:
			t.Fatalf("M1: event %d received is %s, want %s (the one before: %s)", i, got[i], want[i], got[max(i-1, 0)])
		}
	}
}
