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
type topicGrant struct {
	all      bool                // "*"
	exact    map[string]struct{} // names
	names    []string            // the same, sorted
	prefixes []string            // "team.7." for "team.7.*", sorted
}

// parseTopicGrant parses a claim's list; it refuses what no topic could
// match, so that a typo in a backend is an error and not a silent refusal.
func parseTopicGrant(list []string) (topicGrant, error) {
	var g topicGrant
	for i, p := range list {
		switch {
		case p == "*":
			g.all = true
		case strings.HasSuffix(p, "*"):
			prefix := p[:len(p)-1]
			if why := checkTopic(prefix); why != nil {
				return topicGrant{}, fmt.Errorf("pattern %d (%q): the prefix %s", i+1, p, why.Reason)
			}
			g.prefixes = append(g.prefixes, prefix)
		default:
			if why := checkTopic(p); why != nil {
				return topicGrant{}, fmt.Errorf("topic %d (%q) %s", i+1, p, why.Reason)
			}
			if g.exact == nil {
				g.exact = map[string]struct{}{}
			}
			g.exact[p] = struct{}{}
		}
	}
	if g.all {
		return topicGrant{all: true}, nil
	}
	for t := range g.exact {
		g.names = append(g.names, t)
	}
	slices.Sort(g.names)
	slices.Sort(g.prefixes)
	g.prefixes = slices.Compact(g.prefixes)
	return g, nil
}

// allows reports whether the grant covers topic.
func (g *topicGrant) allows(topic string) bool {
	if g.all {
		return true
	}
	if _, ok := g.exact[topic]; ok {
		return true
	}
	return matchesPrefix(g.prefixes, topic)
}

// empty reports whether the grant covers no topic at all.
func (g *topicGrant) empty() bool { return !g.all && len(g.exact) == 0 && len(g.prefixes) == 0 }

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
