package bench

import (
	"fmt"
	"slices"
	"strings"
)

// Fanout is one running instance of a strategy: it moves events from one
// publisher goroutine to Config.Readers consumers. Open starts it; the
// strategy owns its consumer goroutines and hands each received batch to that
// consumer's Sink.
type Fanout interface {
	// Publish sends evs, in order, to every consumer. Only one goroutine
	// publishes. Publish must not retain evs after it returns.
	Publish(evs []Event)
	// Close ends the stream: each consumer receives what the strategy still
	// holds for it, then calls Sink.Finish.
	Close()
	// Wait returns once every consumer goroutine has finished.
	Wait()
	// Dropped is the number of events the publisher side discarded for
	// consumer i (drop-oldest evictions, drop-newest rejections). Strategies
	// whose consumers learn of their losses report them with Sink.Missed
	// and return 0. Called after Wait.
	Dropped(i int) uint64
}

// Config is what every strategy is built with.
type Config struct {
	Readers  int // consumers, each with its own Sink
	Capacity int // buffer: the ring's slots, or each consumer channel's length
	Batch    int // events per Publish call (the largest len(evs))
}

// A Strategy is a named way to build a Fanout.
type Strategy struct {
	// Name is the strategy's key in scenario names (strategy=NAME).
	Name string
	// Lossless strategies never drop an event: a slow consumer holds the
	// publisher back (block, disruptor) or its backlog grows (unbounded).
	Lossless bool
	// Summary is one line for tables and --help.
	Summary string
	// Open builds a Fanout for cfg whose consumer i hands its events to
	// sinks[i]. Every consumer is subscribed when Open returns: it will see
	// every event published after that.
	Open func(cfg Config, sinks []*Sink) (Fanout, error)
	// MaxReaders, if positive, caps the readers the strategy is run with by
	// the default matrices (busy-spinning readers need a core each).
	MaxReaders int
}

var strategies []Strategy

// register adds s to the suite; each strategy's file registers itself.
func register(s Strategy) {
	if _, ok := LookupStrategy(s.Name); ok {
		panic("bench: strategy registered twice: " + s.Name)
	}
	strategies = append(strategies, s)
	slices.SortStableFunc(strategies, func(a, b Strategy) int { return strategyOrder(a.Name) - strategyOrder(b.Name) })
}

// order in which tables and charts list strategies: the subject, its
// lossless sibling, then the baselines.
var order = []string{"ring-adaptive", "ring-sleeping", "ring-blocking", "ring-yield", "ring-spin", "disruptor", "chan-drop-oldest", "chan-drop-newest", "chan-block", "chan-unbounded", "mutex-cond"}

func strategyOrder(name string) int {
	if i := slices.Index(order, name); i >= 0 {
		return i
	}
	return len(order)
}

// Strategies lists every registered strategy in report order.
func Strategies() []Strategy { return slices.Clone(strategies) }

// LookupStrategy finds a strategy by name.
func LookupStrategy(name string) (Strategy, bool) {
	for _, s := range strategies {
		if s.Name == name {
			return s, true
		}
	}
	return Strategy{}, false
}

// StrategyNames lists the registered names, for error messages and --help.
func StrategyNames() string {
	names := make([]string, len(strategies))
	for i, s := range strategies {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

func (c Config) validate() error {
	switch {
	case c.Readers < 1:
		return fmt.Errorf("bench: readers must be at least 1, got %d", c.Readers)
	case c.Capacity < 1:
		return fmt.Errorf("bench: capacity must be at least 1, got %d", c.Capacity)
	case c.Batch < 1:
		return fmt.Errorf("bench: batch must be at least 1, got %d", c.Batch)
	}
	return nil
}
