package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/ringcast/ringcast/internal/report"
)

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
	if s, err := r.sampleServer(ctx); err == nil {
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
		pub := r.published.Load() + r.publishFailed.Load()
		client := selfCPU()
		pt := SeriesPoint{
			AtSec:       time.Since(r.base).Seconds(),
			Phase:       r.phase(),
			Connected:   r.connected.Load(),
			PublishedPS: float64(pub-lastPub) / span,
			DeliveredPS: float64(del-lastDel) / span,
			ClientCPU:   (client - lastClient) / span,
			ServerCPU:   -1,
			GapEvents:   gaps,
		}
		lastPub, lastDel, lastClient = pub, del, client
		if s, err := r.sampleServer(ctx); err == nil {
			if haveServer {
				pt.ServerCPU = (s.CPUSec - lastServer.CPUSec) / span
			}
			pt.ServerRSS = s.RSS
			lastServer, haveServer = s, true
			r.samplesMu.Lock()
			r.serverSamples = append(r.serverSamples, s)
			r.samplesMu.Unlock()
		}
		if r.measuring.Load() {
			// The last complete interval of intended time.
			iv := (r.now()-r.measureStart.Load())/r.intervalNs - 1
			if iv >= 0 {
				r.coll.intervalHistogram(h, iv, nil)
				pt.IntervalP99 = float64(h.ValueAtPercentile(99)) / 1000
			}
		}
		r.samplesMu.Lock()
		r.samples = append(r.samples, pt)
		r.samplesMu.Unlock()
		if cfg.Progress != nil {
			r.printProgress(pt)
			printed = true
		}
	}
}

func (r *run) phase() string {
	switch {
	case !r.measuring.Load():
		if r.connected.Load() < int64(len(r.subs)) {
			return "connect"
		}
		return "warmup"
	case r.cfg.Scenario == ScenarioIdle:
		return "hold"
	case r.pubWallDone.Load():
		return "drain"
	}
	return "measure"
}

func (r *run) printProgress(pt SeriesPoint) {
	cfg := &r.cfg
	elapsed := time.Duration(0)
	if r.measuring.Load() {
		elapsed = time.Duration(r.now() - r.measureStart.Load())
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
