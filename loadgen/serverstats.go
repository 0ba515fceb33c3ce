package loadgen

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// serverSampler reads the server under test: its resident memory and CPU
// time from /proc (Config.ServerPID) or from its Prometheus metrics, its
// counters and live heap from those metrics, and, for the idle scenario, a
// garbage collection through its pprof endpoint. Each reading is best effort:
// a server that exposes none of this still gets its load.
type serverSampler struct {
	src        procSource // nil when there is nothing to read
	metricsURL string     // "" when the server's metrics are not read
	adminURL   string
	idleGC     bool
	httpc      *http.Client

	mu    sync.Mutex
	taken []procSample // the progress loop's readings, for the peak RSS
}

// newServerSampler finds what the server lets itself be read through: the
// metrics URL (Config.MetricsURL, else URL+"/metrics", unless "off") when it
// answers, and the process statistics source.
func newServerSampler(ctx context.Context, cfg *Config, httpc *http.Client) *serverSampler {
	s := &serverSampler{adminURL: cfg.AdminURL, idleGC: cfg.IdleGC, httpc: httpc}
	if cfg.MetricsURL != "off" {
		u := cfg.MetricsURL
		if u == "" && cfg.URL != "" {
			u = cfg.URL + "/metrics"
		}
		if u != "" {
			if _, err := scrapeMetrics(ctx, httpc, u); err == nil {
				s.metricsURL = u
			} else if cfg.MetricsURL != "" {
				cfg.Logger.Warn("loadgen: server metrics unavailable", "url", u, "err", err)
			}
		}
	}
	switch {
	case cfg.ServerPID > 0:
		s.src = pidSource{append([]int{cfg.ServerPID}, cfg.ServerPIDs...)}
	case s.metricsURL != "":
		src := metricsSource{url: s.metricsURL, client: httpc}
		if _, err := src.sample(ctx); err == nil {
			s.src = src
		}
	}
	return s
}

// gc asks the server to collect garbage before a memory reading (the
// pprof heap endpoint's gc=1), when Config.IdleGC allows it, so that the
// reading holds live memory rather than whatever the last GC left behind.
func (s *serverSampler) gc(ctx context.Context) {
	if !s.idleGC {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.adminURL+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return
	}
	if resp, err := s.httpc.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// liveMemory reads the Go heap and stacks in use from the server's
// metrics (0 when they are not there): memory per connection without the
// allocator's and the kernel's slack that RSS includes.
func (s *serverSampler) liveMemory(ctx context.Context) float64 {
	if s.metricsURL == "" {
		return 0
	}
	m, err := scrapeMetrics(ctx, s.httpc, s.metricsURL)
	if err != nil {
		return 0
	}
	heap, ok1 := m["go_memstats_heap_inuse_bytes"]
	stack, ok2 := m["go_memstats_stack_inuse_bytes"]
	if !ok1 || !ok2 {
		return 0
	}
	return heap + stack
}

// counters scrapes the server's metrics; nil when they are not read.
func (s *serverSampler) counters(ctx context.Context) map[string]float64 {
	if s.metricsURL == "" {
		return nil
	}
	m, _ := scrapeMetrics(ctx, s.httpc, s.metricsURL)
	return m
}

func (s *serverSampler) sample(ctx context.Context) (procSample, error) {
	if s.src == nil {
		return procSample{}, errors.New("no server statistics source")
	}
	return s.src.sample(ctx)
}

// keep notes a reading taken between the phase boundaries, whose RSS may be
// the peak.
func (s *serverSampler) keep(p procSample) {
	s.mu.Lock()
	s.taken = append(s.taken, p)
	s.mu.Unlock()
}

// stats summarises the readings at the run's start (baseline), at the start
// of measuring and at its end, with every reading kept in between and the
// progress series (descriptors held over sockets open).
func (s *serverSampler) stats(baseline, atStart, final procSample, err error, measured time.Duration, series []SeriesPoint) *ServerStats {
	st := &ServerStats{Source: s.src.describe()}
	if err != nil {
		st.Error = err.Error()
		return st
	}
	if measured > 0 {
		st.CPUCores = (final.CPUSec - atStart.CPUSec) / measured.Seconds()
	}
	st.RSSStart, st.RSSEnd = baseline.RSS, final.RSS
	st.RSSPeak = max(baseline.RSS, final.RSS)
	st.FDsStart, st.FDsEnd, st.FDsPeak = baseline.FDs, final.FDs, max(baseline.FDs, final.FDs)
	s.mu.Lock()
	for _, p := range s.taken {
		st.RSSPeak = max(st.RSSPeak, p.RSS)
		st.FDsPeak = max(st.FDsPeak, p.FDs)
	}
	s.mu.Unlock()
	st.HeldOverLive, st.HeldOverEnd = heldOverLive(series, baseline.FDs)
	return st
}

// heldOverLive compares, at each measured sample, the descriptors the run
// added to the server (fds - base) with the subscribers' sockets open: the
// worst excess and the last one, as fractions of those open.
func heldOverLive(samples []SeriesPoint, base int64) (worst, end float64) {
	if base < 0 {
		return 0, 0
	}
	for _, pt := range samples {
		if (pt.Phase != "measure" && pt.Phase != "hold") || pt.ServerFDs < 0 || pt.Sockets <= 0 {
			continue
		}
		end = float64(pt.ServerFDs-base-pt.Sockets) / float64(pt.Sockets)
		worst = max(worst, end)
	}
	return worst, end
}
