package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ringcast/ringcast/internal/report"
)

// seriesLog is the points the progress loop has taken, for the Result.
type seriesLog struct {
	mu  sync.Mutex
	pts []SeriesPoint
}

func (l *seriesLog) add(pt SeriesPoint) {
	l.mu.Lock()
	l.pts = append(l.pts, pt)
	l.mu.Unlock()
}

// points is a copy of the points so far (nil when there are none).
func (l *seriesLog) points() []SeriesPoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]SeriesPoint(nil), l.pts...)
}

// progressLoop samples the run once per interval: it feeds the throughput
// series and, when a progress writer is set, prints one line (rewritten in
// place on a terminal).
func (r *run) progressLoop(ctx context.Context) {
	cfg := &r.cfg
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	lastT := time.Now()
	lastPub, lastDel := int64(0), int64(0)
	lastClient := selfCPU()
	var lastServer procSample
	haveServer := false
	if s, err := r.server.sample(ctx); err == nil {
		lastServer, haveServer = s, true
	}
	h := newDense()
	printed := false
	defer func() {
		if printed && cfg.ProgressTTY {
			fmt.Fprintln(cfg.Progress)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		span := now.Sub(lastT).Seconds()
		lastT = now
		var del, gaps int64
		for _, s := range r.subs {
			del += s.deliveredA.Load()
			gaps += s.lossA.Load()
		}
		pub := r.sched.published.Load() + r.sched.failed.Load()
		client := selfCPU()
		pt := SeriesPoint{
			AtSec:       time.Since(r.clock.base).Seconds(),
			Phase:       r.phase(),
			Connected:   r.env.conns.open.Load(),
			Sockets:     r.env.conns.sockets.Load(),
			PublishedPS: float64(pub-lastPub) / span,
			DeliveredPS: float64(del-lastDel) / span,
			ClientCPU:   (client - lastClient) / span,
			ServerCPU:   -1,
			ServerFDs:   -1,
			GapEvents:   gaps,
		}
		lastPub, lastDel, lastClient = pub, del, client
		if s, err := r.server.sample(ctx); err == nil {
			if haveServer {
				pt.ServerCPU = (s.CPUSec - lastServer.CPUSec) / span
			}
			pt.ServerRSS = s.RSS
			pt.ServerFDs = s.FDs
			lastServer, haveServer = s, true
			r.server.keep(s)
		}
		if r.measure.running() {
			// The last complete interval of intended time.
			iv := (r.clock.now()-r.measure.start())/int64(cfg.Interval) - 1
			if iv >= 0 {
				r.coll.intervalHistogram(h, iv, nil)
				pt.IntervalP99 = float64(h.ValueAtPercentile(99)) / 1000
			}
		}
		r.series.add(pt)
		if cfg.Progress != nil {
			r.printProgress(pt)
			printed = true
		}
	}
}

func (r *run) phase() string {
	switch {
	case !r.measure.running():
		if r.env.conns.open.Load() < int64(len(r.subs)) {
			return "connect"
		}
		return "warmup"
	case r.cfg.Scenario == ScenarioIdle:
		return "hold"
	case r.sched.done.Load():
		return "drain"
	}
	return "measure"
}

func (r *run) printProgress(pt SeriesPoint) {
	cfg := &r.cfg
	elapsed := time.Duration(0)
	if r.measure.running() {
		elapsed = time.Duration(r.clock.now() - r.measure.start())
	}
	line := fmt.Sprintf("[%5.1fs/%s] %-7s conn %d/%d  pub %s/s  deliv %s/s  gaps %d  p99 %s",
		elapsed.Seconds(), cfg.Duration, pt.Phase, pt.Connected, len(r.subs),
		report.Rate(pt.PublishedPS), report.Rate(pt.DeliveredPS), pt.GapEvents, report.Ms(pt.IntervalP99))
	if pt.ServerCPU >= 0 {
		line += fmt.Sprintf("  srv %.0f%% %s", 100*pt.ServerCPU, report.Bytes(pt.ServerRSS))
	}
	line += fmt.Sprintf("  cli %.0f%%", 100*pt.ClientCPU)
	if cfg.ProgressTTY {
		fmt.Fprintf(cfg.Progress, "\r%s\x1b[K", line)
		return
	}
	fmt.Fprintln(cfg.Progress, line)
}
