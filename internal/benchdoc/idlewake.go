package benchdoc

import (
	"slices"

	"github.com/ringcast/ringcast/bench"
	"github.com/ringcast/ringcast/internal/report"
)

// idleWakeNote says what the machine's idle wake-up was during the cost
// runs, and what its slow tail does to the cheap strategies' p99.
func (d *doc) idleWakeNote() {
	p50, p90 := d.measured(bench.UnitIdleWake50), d.measured(bench.UnitIdleWake90)
	if len(p50) == 0 || len(p90) == 0 {
		return
	}
	d.p("The machine's idle wake-up (`%s`, `%s`: %d wake-ups just before each cost run, `bench.IdleWake`): how long a goroutine woken by a busy publisher waits for an idle processor to take it. Its median went from %s to %s over this run's cost runs, its 90th percentile from %s to %s. A reader whose core went idle while it waited pays it when its next value comes. The strategies that cost little CPU per delivery leave their cores idle between deliveries, so in a run where more than one wake-up in a hundred meets the slow tail, their p99 is that tail; a strategy that keeps its core busy pays in CPU instead. Forty wake-ups show how slow the tail is, not how often a run meets it (docs/ring.md, eighth pass).\n\n",
		bench.UnitIdleWake50, bench.UnitIdleWake90, bench.IdleWakeTrials,
		report.Seconds(slices.Min(p50)), report.Seconds(slices.Max(p50)),
		report.Seconds(slices.Min(p90)), report.Seconds(slices.Max(p90)))
}
