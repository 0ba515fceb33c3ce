package loadgen

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

func (r *run) setupServerStats(ctx context.Context) {
	cfg := &r.cfg
	if cfg.MetricsURL != "off" {
		u := cfg.MetricsURL
		if u == "" && cfg.URL != "" {
			u = cfg.URL + "/metrics"
		}
		if u != "" {
			if _, err := scrapeMetrics(ctx, r.httpc, u); err == nil {
				r.metricsURL = u
			} else if cfg.MetricsURL != "" {
				cfg.Logger.Warn("loadgen: server metrics unavailable", "url", u, "err", err)
			}
		}
	}
	switch {
	case cfg.ServerPID > 0:
		r.procSrc = pidSource{cfg.ServerPID}
	case r.metricsURL != "":
		src := metricsSource{url: r.metricsURL, client: r.httpc}
		if _, err := src.sample(ctx); err == nil {
			r.procSrc = src
		}
	}
}

// serverGC asks the server to collect garbage before a memory reading (the
// pprof heap endpoint's gc=1), when Config.IdleGC allows it, so that the
// reading holds live memory rather than whatever the last GC left behind.
func (r *run) serverGC(ctx context.Context) {
	if !r.cfg.IdleGC {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.AdminURL+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return
	}
	if resp, err := r.httpc.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// serverLiveMemory reads the Go heap and stacks in use from the server's
// metrics (0 when they are not there): memory per connection without the
// allocator's and the kernel's slack that RSS includes.
func (r *run) serverLiveMemory(ctx context.Context) float64 {
	if r.metricsURL == "" {
		return 0
	}
	m, err := scrapeMetrics(ctx, r.httpc, r.metricsURL)
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

func (r *run) sampleServer(ctx context.Context) (procSample, error) {
	if r.procSrc == nil {
		return procSample{}, errors.New("no server statistics source")
	}
	return r.procSrc.sample(ctx)
}

func (r *run) serverStats(baseline, atStart, final procSample, err error, measured time.Duration) *ServerStats {
	st := &ServerStats{Source: r.procSrc.describe()}
	if err != nil {
		st.Error = err.Error()
		return st
	}
	if measured > 0 {
		st.CPUCores = (final.CPUSec - atStart.CPUSec) / measured.Seconds()
	}
	st.RSSStart, st.RSSEnd = baseline.RSS, final.RSS
	st.RSSPeak = max(baseline.RSS, final.RSS)
	r.samplesMu.Lock()
	for _, s := range r.serverSamples {
		st.RSSPeak = max(st.RSSPeak, s.RSS)
	}
	r.samplesMu.Unlock()
	return st
}
