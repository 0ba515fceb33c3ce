package bench

import (
	"errors"
	"time"
)

// The cost view: what a strategy costs in CPU per delivery, and what reader
// latency it gives, at a rate every strategy sustains. Sustained throughput
// says how far a strategy goes; a user running at 100k events/s wants to know
// what they pay there.
//
// Measuring it on two cores. A paced publisher must wait between events
// microseconds apart, and timers here wake about 1 ms late, so it spins. Its
// spinning is not the strategy's cost, so with RunOptions.MeasureCPU the
// publisher is locked to its OS thread and
//
//	CPU = process CPU − the publisher thread's CPU + the publisher's time inside Fanout.Publish
//
// over the timed part: every consumer goroutine, the runtime's work for them
// (scheduling, wake-ups, GC) and the publisher's own publishing, which is
// where a strategy wakes its readers. The publisher holds one processor, so
// the consumers share the other(s): the same for every strategy.

// CostOptions tune Cost; the zero value means the defaults.
type CostOptions struct {
	Duration time.Duration // publishing time per run (default 500 ms)
}

// CostResult is what Cost measured.
type CostResult struct {
	CPUPerDelivery time.Duration // CPU (see above) / deliveries
	P99            time.Duration // healthy consumers' p99 latency
	Deliveries     uint64
	Loss           float64 // fraction of deliveries lost: the rate was not sustained if > 0
	// IdleWake50 and IdleWake90 are the machine's idle wake-up (IdleWake)
	// just before the run: the median and 90th percentile of IdleWakeTrials.
	IdleWake50, IdleWake90 time.Duration
	Result                 *Result
}

// Cost runs sc paced at sc.Rate (which must be set) for opt.Duration and
// measures the strategy's CPU per delivery and its readers' p99 latency.
func Cost(sc Scenario, opt CostOptions) (*CostResult, error) {
	if opt.Duration <= 0 {
		opt.Duration = 500 * time.Millisecond
	}
	if sc.Rate <= 0 {
		return nil, errors.New("bench: the cost view needs a rate (Scenario.Rate)")
	}
	events := max(int(float64(sc.Rate)*opt.Duration.Seconds()), sc.Batch)
	wake50, wake90 := IdleWake(IdleWakeTrials)
	r, err := Run(sc, RunOptions{Events: events, MeasureCPU: true})
	if err != nil {
		return nil, err
	}
	n, delivered, lost, lat := r.Totals(true)
	out := &CostResult{Deliveries: delivered, Result: r, P99: time.Duration(lat.ValueAtQuantile(99)),
		IdleWake50: wake50, IdleWake90: wake90}
	if delivered > 0 {
		out.CPUPerDelivery = r.CPU / time.Duration(delivered)
	}
	if n > 0 {
		out.Loss = float64(lost) / (float64(r.Published) * float64(n))
	}
	return out, nil
}

// cpuMeter measures CPU as described above.
type cpuMeter struct {
	process, thread time.Duration
	inPublish       int64
}

func (m *cpuMeter) start() error {
	p, t, err := processAndThreadCPU()
	m.process, m.thread = p, t
	return err
}

func (m *cpuMeter) publish(f Fanout, evs []Event) {
	t := Nanotime()
	f.Publish(evs)
	m.inPublish += Nanotime() - t
}

func (m *cpuMeter) stop() time.Duration {
	p, t, err := processAndThreadCPU()
	if err != nil {
		return 0
	}
	return max(0, (p-m.process)-(t-m.thread)+time.Duration(m.inPublish))
}

// spinUntil returns at the first Nanotime >= due, and that time, without
// yielding: the publisher of a cost run owns its thread (see above).
func spinUntil(due int64) int64 {
	for {
		if now := Nanotime(); now >= due {
			return now
		}
	}
}
