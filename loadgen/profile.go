package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/pprof/profile"
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

// sampleIndex picks the sample type a person would look at first: the named
// one when present, else the profile's default, else the last.
func sampleIndex(p *profile.Profile, want string) int {
	for i, st := range p.SampleType {
		if st.Type == want {
			return i
		}
	}
	for i, st := range p.SampleType {
		if st.Type == p.DefaultSampleType {
			return i
		}
	}
	return len(p.SampleType) - 1
}

// topFunctions computes every function's flat value (samples where it is the
// leaf, the innermost inlined frame counting) and cumulative value (samples
// where it is anywhere on the stack, counted once per sample even when it
// recurses), and returns the n largest of each.
func topFunctions(p *profile.Profile, kind, sampleType string, n int) ProfileSummary {
	si := sampleIndex(p, sampleType)
	sum := ProfileSummary{Kind: kind}
	if si < 0 {
		sum.Error = "profile has no samples types"
		return sum
	}
	sum.SampleType, sum.Unit = p.SampleType[si].Type, p.SampleType[si].Unit
	flat := map[string]int64{}
	cum := map[string]int64{}
	seen := map[string]bool{}
	for _, s := range p.Sample {
		v := s.Value[si]
		if v == 0 {
			continue
		}
		sum.Total += v
		clear(seen)
		leaf := true
		for _, loc := range s.Location {
			// Line[0] is the innermost of the inlined frames at this location.
			for _, ln := range loc.Line {
				name := "?"
				if ln.Function != nil {
					name = ln.Function.Name
				}
				if leaf {
					flat[name] += v
					leaf = false
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
			if len(loc.Line) == 0 {
				name := fmt.Sprintf("0x%x", loc.Address)
				if leaf {
					flat[name] += v
					leaf = false
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
		}
	}
	all := make([]FuncShare, 0, len(cum))
	for name, c := range cum {
		fs := FuncShare{Function: name, Flat: flat[name], Cum: c}
		if sum.Total > 0 {
			fs.FlatPct = 100 * float64(fs.Flat) / float64(sum.Total)
			fs.CumPct = 100 * float64(fs.Cum) / float64(sum.Total)
		}
		all = append(all, fs)
	}
	byFlat := append([]FuncShare(nil), all...)
	sort.Slice(byFlat, func(i, j int) bool {
		if byFlat[i].Flat != byFlat[j].Flat {
			return byFlat[i].Flat > byFlat[j].Flat
		}
		return byFlat[i].Function < byFlat[j].Function
	})
	sort.Slice(all, func(i, j int) bool {
		if all[i].Cum != all[j].Cum {
			return all[i].Cum > all[j].Cum
		}
		return all[i].Function < all[j].Function
	})
	sum.TopFlat = byFlat[:min(n, len(byFlat))]
	sum.TopCum = all[:min(n, len(all))]
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
