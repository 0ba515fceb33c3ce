package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// FuncShare is one function's share of a profile.
type FuncShare struct {
	Function string  `json:"function"`
	Flat     int64   `json:"flat"`
	Cum      int64   `json:"cum"`
	FlatPct  float64 `json:"flat_pct"`
	CumPct   float64 `json:"cum_pct"`
}

// ProfileSummary is one profile taken from the server while it was under
// load. Run fetches it (Raw) and keeps it (Saved); the load generator links
// no profile parser, so the top functions (TopFlat, TopCum) are filled in by
// whoever summarises Raw — `ringcast loadgen --profile` does, with the same
// computation as `go tool pprof -top`.
type ProfileSummary struct {
	Kind       string      `json:"kind"`        // cpu or heap
	SampleType string      `json:"sample_type"` // the one to summarise: cpu, inuse_space
	Unit       string      `json:"unit,omitempty"`
	Total      int64       `json:"total,omitempty"`
	TopFlat    []FuncShare `json:"top_flat,omitempty"`
	TopCum     []FuncShare `json:"top_cum,omitempty"`
	Saved      string      `json:"saved,omitempty"` // path of the raw profile, for go tool pprof
	Error      string      `json:"error,omitempty"`
	// Raw is the profile as the server sent it (gzipped protobuf).
	Raw []byte `json:"-"`
}

// fetchProfile GETs a pprof endpoint.
func fetchProfile(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, snippet(raw))
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: empty profile", url)
	}
	return raw, nil
}

// captureProfiles takes a CPU profile of the given length from the admin
// listener, then a heap profile. Raw profiles are saved under dir when it
// is not empty. The top functions are summarised later, from Raw (see
// ProfileSummary), which is where Config.ProfileTop applies.
func captureProfiles(ctx context.Context, adminURL string, seconds time.Duration, dir string) []ProfileSummary {
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
		raw, err := fetchProfile(ctx, c, adminURL+j.path)
		if err != nil {
			out = append(out, ProfileSummary{Kind: j.kind, Error: err.Error()})
			continue
		}
		s := ProfileSummary{Kind: j.kind, SampleType: j.sampleType, Raw: raw}
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
