package transport

// What a credential allows: the topics a signed token's claim lets its
// holder subscribe to and publish to (jwt.go verifies the token).
//
// A claim lists topic names and prefix patterns:
//   - "user.42" is that topic exactly;
//   - "team.7.*" is every topic that starts with "team.7.": team.7.x and
//     team.7.x.y, not team.70.x and not team.7 itself. A '*' is a wildcard
//     only as the last character; elsewhere it is part of a name;
//   - "*" is every topic.
//
// Invariants:
//   A1. A grant is decided once per connection or request: a stream's
//       selection is built from it at connect (selectionFor), so the engines
//       never hand a stream an event of a topic outside it, and nothing on
//       the fan-out path looks at grants.
//   A2. A subscription without topics under a narrow grant follows exactly
//       the topics the grant allows, never more: its exact names, and the
//       topics its prefixes match (a pattern selection).

import (
	"fmt"
	"slices"
	"strings"
)

// topicGrant is one list of a claim ("subscribe" or "publish"), parsed.
// names and prefixes share one array, sized by a first pass: a token's
// first connection parses two lists, and this is most of what it allocates
// for them.
type topicGrant struct {
	all      bool     // "*"
	names    []string // exact names, sorted, without duplicates
	prefixes []string // "team.7." for "team.7.*", sorted, without duplicates
}

// parseTopicGrant parses a claim's list; it refuses what no topic could
// match, so that a typo in a backend is an error and not a silent refusal.
// list is not modified (a cached grant never aliases the decoded claims).
func parseTopicGrant(list []string) (topicGrant, error) {
	all, nNames := false, 0
	for i, p := range list {
		switch {
		case p == "*":
			all = true
		case strings.HasSuffix(p, "*"):
			if why := checkTopic(p[:len(p)-1]); why != nil {
				return topicGrant{}, fmt.Errorf("pattern %d (%q): the prefix %s", i+1, p, why.Reason)
			}
		default:
			if why := checkTopic(p); why != nil {
				return topicGrant{}, fmt.Errorf("topic %d (%q) %s", i+1, p, why.Reason)
			}
			nNames++
		}
	}
	if all {
		return topicGrant{all: true}, nil
	}
	if len(list) == 0 {
		return topicGrant{}, nil
	}
	buf := make([]string, len(list))
	names, prefixes := buf[:0:nNames], buf[nNames:nNames]
	for _, p := range list {
		if strings.HasSuffix(p, "*") {
			prefixes = append(prefixes, p[:len(p)-1])
		} else {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	slices.Sort(prefixes)
	g := topicGrant{names: slices.Compact(names), prefixes: slices.Compact(prefixes)}
	if len(g.names) == 0 {
		g.names = nil
	}
	if len(g.prefixes) == 0 {
		g.prefixes = nil
	}
	return g, nil
}

// allows reports whether the grant covers topic.
func (g *topicGrant) allows(topic string) bool {
	if g.all {
		return true
	}
	if _, ok := slices.BinarySearch(g.names, topic); ok {
		return true
	}
	return matchesPrefix(g.prefixes, topic)
}

// empty reports whether the grant covers no topic at all.
func (g *topicGrant) empty() bool { return !g.all && len(g.names) == 0 && len(g.prefixes) == 0 }

func matchesPrefix(prefixes []string, topic string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(topic, p) {
			return true
		}
	}
	return false
}

// grant is what one credential allows. A nil *grant allows everything: a
// static token, or a server without authentication.
type grant struct {
	subscribe, publish topicGrant
	// expires is when a stream of this credential ends (Unix nanoseconds):
	// the token's exp plus the leeway, the last instant it is accepted.
	expires int64
	subject string // "sub", for logs
}

// selectionFor returns the selection of a subscription to topics (sorted,
// without duplicates; none: all) under g, or the first topic g does not
// allow (A2).
func (g *grant) selectionFor(topics []string) (sel selection, forbidden string) {
	if g == nil || g.subscribe.all {
		return newSelection(topics), ""
	}
	for _, t := range topics {
		if !g.subscribe.allows(t) {
			return selection{}, t
		}
	}
	if len(topics) > 0 {
		return newSelection(topics), ""
	}
	return newPatternSelection(g.subscribe.names, g.subscribe.prefixes), ""
}
