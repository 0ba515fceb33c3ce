package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/pprof/profile"

	"github.com/ringcast/ringcast/internal/report/proftop"
)

// FuncShare is one function's share of a profile.
type FuncShare struct {
	Function string  `json:"function"`
	Flat     int64   `json:"flat"`
	Cum      int64   `json:"cum"`
	FlatPct  float64 `json:"flat_pct"`
	CumPct   float64 `json:"cum_pct"`
}

// ProfileSummary is the top of one profile taken from the server while it was
// under load.
type ProfileSummary struct {
	Kind       string      `json:"kind"` // cpu or heap
	SampleType string      `json:"sample_type"`
	Unit       string      `json:"unit"`
	Total      int64       `json:"total"`
	TopFlat    []FuncShare `json:"top_flat"`
	TopCum     []FuncShare `json:"top_cum"`
	Saved      string      `json:"saved,omitempty"` // path of the raw profile, for go tool pprof
	Error      string      `json:"error,omitempty"`
}

// fetchProfile GETs a pprof endpoint and parses the answer.
func fetchProfile(ctx context.Context, c *http.Client, url string) (*profile.Profile, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != 200 {
		return nil, nil, fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, snippet(raw))
	}
	p, err := profile.Parse(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", url, err)
	}
	return p, raw, nil
}

// topFunctions summarises the profile's sample type (the profile's default
// when it has no sampleType samples) with proftop, the same computation as
// `go tool pprof -top`, and keeps the n largest by flat and by cumulative value.
func topFunctions(p *profile.Profile, kind, sampleType string, n int) ProfileSummary {
	sum := ProfileSummary{Kind: kind}
	if _, err := proftop.SampleIndex(p, sampleType); err != nil && p.DefaultSampleType != "" {
		sampleType = p.DefaultSampleType
	}
	top, err := proftop.Compute(p, sampleType)
	if err != nil {
		sum.Error = err.Error()
		return sum
	}
	sum.SampleType, sum.Unit, sum.Total = top.SampleType, top.Unit, top.Total
	conv := func(rows []proftop.Row) []FuncShare {
		out := make([]FuncShare, 0, min(n, len(rows)))
		for _, r := range rows[:min(n, len(rows))] {
			out = append(out, FuncShare{Function: r.Function, Flat: r.Flat, Cum: r.Cum, FlatPct: 100 * r.FlatShare, CumPct: 100 * r.CumShare})
		}
		return out
	}
	sum.TopFlat, sum.TopCum = conv(top.ByFlat), conv(top.ByCum)
	return sum
}

// captureProfiles takes a CPU profile of the given length from the admin
// listener, then a heap profile, and summarises both. Raw profiles are saved
// under dir when it is not empty.
func captureProfiles(ctx context.Context, adminURL string, seconds time.Duration, dir string, top int) []ProfileSummary {
	c := &http.Client{Timeout: seconds + 30*time.Second}
	secs := max(1, int(seconds.Round(time.Second)/time.Second))
	jobs := []struct {
		kind, path, sampleType string
	}{
		{"cpu", fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), "cpu"},
		{"heap", "/debug/pprof/heap", "inuse_space"},
	}
	var out []ProfileSummary
	for _, j := range jobs {
		p, raw, err := fetchProfile(ctx, c, adminURL+j.path)
		if err != nil {
			out = append(out, ProfileSummary{Kind: j.kind, Error: err.Error()})
			continue
		}
		s := topFunctions(p, j.kind, j.sampleType, top)
		if dir != "" {
			path := filepath.Join(dir, "server-"+j.kind+".pb.gz")
			if err := os.MkdirAll(dir, 0o755); err == nil && os.WriteFile(path, raw, 0o644) == nil {
				s.Saved = path
			}
		}
		out = append(out, s)
	}
	return out
}
