package loadgen

import "testing"

// TestOfTopics: a subscriber to one topic expects that topic's events; a
// subscriber to every topic expects them all.
func TestOfTopics(t *testing.T) {
	accepted := []int64{5, 7, 11}
	one := &subscriber{topic: 1}
	all := &subscriber{allTopics: true}
	if got := ofTopics(one, accepted); got != 7 {
		t.Errorf("one topic: %d, want 7", got)
	}
	if got := ofTopics(all, accepted); got != 23 {
		t.Errorf("all topics: %d, want 23", got)
	}
}
