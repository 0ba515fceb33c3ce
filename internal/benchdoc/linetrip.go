package benchdoc

import (
	"slices"

	"github.com/ringcast/ringcast/bench"
	"github.com/ringcast/ringcast/internal/benchreport"
)

// nearLine is how much slower than the run's fastest a line round trip
// (bench.UnitLineTrip) may be for its run to count as one on the machine's
// fast state: the states it flips between differ several times over, while
// probes in one state rarely differ by twice.
const nearLine = 3

// measured returns every value in unit that the run's results carry, over
// all rows, zeros (no measure) left out; durations in seconds (benchfmt
// tidies the unit). The machine probes' figures (line round trips, idle
// wake-ups) describe the run rather than one scenario.
func (d *doc) measured(unit string) []float64 {
	var out []float64
	for _, row := range d.set.Rows() {
		for _, v := range d.set.Values(row, unit) {
			if v > 0 {
				out = append(out, v)
			}
		}
	}
	return out
}

// fanoutNearLine is fanout over the runs of sc whose line round trip was at
// most nearLine times the fastest of the whole run; all is how many runs sc
// has. ok is false when the results carry no round trips, or none of sc's
// runs was on the fast state.
func (d *doc) fanoutNearLine(sc bench.Scenario, unit string) (st benchreport.Stat, all int, ok bool) {
	trips := d.measured(bench.UnitLineTrip)
	if len(trips) == 0 {
		return st, 0, false
	}
	limit := nearLine * slices.Min(trips)
	row := "Fanout/" + sc.Name()
	vals, rtt := d.set.Values(row, unit), d.set.Values(row, bench.UnitLineTrip)
	if len(vals) != len(rtt) { // not every run reported both: no pairing
		return st, len(vals), false
	}
	var near []float64
	for i, v := range vals {
		if rtt[i] > 0 && rtt[i] <= limit {
			near = append(near, v)
		}
	}
	st, ok = benchreport.Summarize(near)
	return st, len(vals), ok
}
