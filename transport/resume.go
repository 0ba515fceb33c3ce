package transport

// Selection and resume points: which topics a client follows, and where it
// asked to resume (Last-Event-ID). Both engines classify a resume point the
// same way (rejection) and tell the client with the same reset notice
// (resetNotice); only what they can replay differs.

import (
	"slices"

	"github.com/ringcast/ringcast/transport/internal/eventid"
)

// selection is the set of topics a client follows.
type selection struct {
	all    bool
	topics []string // without duplicates; empty when all; sorted but for what a pattern selection learned
	index  map[string]int
	// prefixes make a pattern selection (a narrow grant's subscription to
	// no topic in particular, topicgrant.go): it also follows every topic
	// that starts with one of them. A reader that sees such a topic first
	// adds it to topics (learn), so per-topic accounting works as for
	// listed topics.
	prefixes []string
}

// newPatternSelection returns the selection of a grant's names and prefix
// patterns. It is never "all": with neither, it follows nothing.
func newPatternSelection(names, prefixes []string) selection {
	if len(prefixes) == 0 {
		if len(names) == 0 {
			return selection{}
		}
		return newSelection(slices.Clone(names))
	}
	s := selection{topics: slices.Clone(names), prefixes: prefixes, index: make(map[string]int, len(names))}
	for i, t := range s.topics {
		s.index[t] = i
	}
	return s
}

// matches reports whether a pattern selection's prefixes cover topic
// (listed topics are found with find).
func (s *selection) matches(topic string) bool { return matchesPrefix(s.prefixes, topic) }

// learn adds a topic its prefixes matched to a pattern selection and
// returns its position.
func (s *selection) learn(topic string) int {
	s.index[topic] = len(s.topics)
	s.topics = append(s.topics, topic)
	return len(s.topics) - 1
}

func newSelection(topics []string) selection {
	if len(topics) == 0 {
		return selection{all: true}
	}
	s := selection{topics: topics}
	if len(topics) > 8 {
		s.index = make(map[string]int, len(topics))
		for i, t := range topics {
			s.index[t] = i
		}
	}
	return s
}

// find returns the position of topic in s.topics, or -1.
func (s *selection) find(topic string) int {
	if s.index != nil {
		if i, ok := s.index[topic]; ok {
			return i
		}
		return -1
	}
	for i, t := range s.topics {
		if t == topic {
			return i
		}
	}
	return -1
}

// resumePoint is what a client sent as Last-Event-ID.
type resumePoint struct {
	given     bool
	raw       string // as sent, for the reset notice
	malformed bool
	epoch     string
	seq       uint64
}

func parseResume(raw string) resumePoint {
	if raw == "" {
		return resumePoint{}
	}
	r := resumePoint{given: true, raw: raw}
	e, seq, _, err := eventid.Parse(raw) // the topic part is informative only
	if err != nil {
		r.malformed = true
		return r
	}
	r.epoch, r.seq = e, seq
	return r
}

// rejection returns the reason of the reset that a resume point gets from
// an engine of this epoch whose last issued sequence is cursor, or "" when
// it is absent or names a position the engine issued (what the engine can
// still replay from it is the engine's to say).
func (r *resumePoint) rejection(epoch string, cursor uint64) string {
	switch {
	case !r.given:
		return ""
	case r.malformed:
		return resetMalformed
	case r.epoch != epoch:
		return resetEpoch
	case r.seq > cursor: // well-formed, this epoch, but never issued
		return resetMalformed
	}
	return ""
}

// resetNotice counts a reset and returns its notice for the client.
func resetNotice(m *serverMetrics, reason, lastID string, missed int64) []byte {
	m.resets[reason].Inc()
	return appendReset(nil, reason, lastID, missed)
}
