// Package proftop computes what `go tool pprof -top` prints — each
// function's flat and cumulative share of a profile — from a parsed profile,
// without shelling out to the pprof tool.
//
// Flat is the value of the samples whose leaf frame is the function; with
// inlining, the leaf is the innermost inlined function (Location.Line[0]).
// Cumulative is the value of the samples with the function anywhere on the
// stack, each sample counted once per function however often it recurses.
package proftop

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/google/pprof/profile"

	"github.com/ringcast/ringcast/internal/report"
)

// Row is one function's share of a profile.
type Row struct {
	Function            string
	Flat, Cum           int64
	FlatShare, CumShare float64 // of Top.Total, 0..1
}

// Top is a profile summarised for one sample type.
type Top struct {
	SampleType string // e.g. "cpu", "alloc_space"
	Unit       string // e.g. "nanoseconds", "bytes"
	Total      int64
	ByFlat     []Row // sorted by Flat, then Cum, then name
	ByCum      []Row // sorted by Cum, then Flat, then name
}

// SampleIndex finds the sample type named typ ("cpu", "samples",
// "alloc_space", "inuse_space", ...).
func SampleIndex(p *profile.Profile, typ string) (int, error) {
	var have []string
	for i, st := range p.SampleType {
		if st.Type == typ {
			return i, nil
		}
		have = append(have, st.Type)
	}
	return 0, fmt.Errorf("proftop: profile has no %q samples (has %s)", typ, strings.Join(have, ", "))
}

// ComputeRaw parses a profile as a pprof endpoint serves it (gzipped
// protobuf) and summarises its sample type typ, or its default sample type
// when it has no typ samples.
func ComputeRaw(raw []byte, typ string) (Top, error) {
	p, err := profile.Parse(bytes.NewReader(raw))
	if err != nil {
		return Top{}, fmt.Errorf("proftop: %w", err)
	}
	if _, err := SampleIndex(p, typ); err != nil && p.DefaultSampleType != "" {
		typ = p.DefaultSampleType
	}
	return Compute(p, typ)
}

// Compute summarises p's sample type typ.
func Compute(p *profile.Profile, typ string) (Top, error) {
	idx, err := SampleIndex(p, typ)
	if err != nil {
		return Top{}, err
	}
	top := Top{SampleType: typ, Unit: p.SampleType[idx].Unit}
	flat := map[string]int64{}
	cum := map[string]int64{}
	seen := map[string]bool{}
	for _, s := range p.Sample {
		v := s.Value[idx]
		if v == 0 {
			continue
		}
		top.Total += v
		clear(seen)
		for li, loc := range s.Location {
			for k, line := range loc.Line {
				name := functionName(line)
				if li == 0 && k == 0 {
					flat[name] += v
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
			if len(loc.Line) == 0 { // no symbols: use the address
				name := fmt.Sprintf("0x%x", loc.Address)
				if li == 0 {
					flat[name] += v
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
		}
	}
	rows := make([]Row, 0, len(cum))
	for name, c := range cum {
		r := Row{Function: name, Flat: flat[name], Cum: c}
		if top.Total > 0 {
			r.FlatShare = float64(r.Flat) / float64(top.Total)
			r.CumShare = float64(r.Cum) / float64(top.Total)
		}
		rows = append(rows, r)
	}
	top.ByFlat = slices.Clone(rows)
	slices.SortFunc(top.ByFlat, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.Flat, a.Flat), cmp.Compare(b.Cum, a.Cum), strings.Compare(a.Function, b.Function))
	})
	top.ByCum = rows
	slices.SortFunc(top.ByCum, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.Cum, a.Cum), cmp.Compare(b.Flat, a.Flat), strings.Compare(a.Function, b.Function))
	})
	return top, nil
}

func functionName(l profile.Line) string {
	if l.Function == nil || l.Function.Name == "" {
		return "?"
	}
	return l.Function.Name
}

// Write prints the n functions with the largest flat share, then the n with
// the largest cumulative share, as pprof's -top does.
func (t Top) Write(w io.Writer, n int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s: total %s\n", t.SampleType, report.ProfileValue(t.Total, t.Unit))
	for _, part := range []struct {
		title string
		rows  []Row
	}{{"by flat", t.ByFlat}, {"by cumulative", t.ByCum}} {
		fmt.Fprintf(tw, "top %d %s\n", n, part.title)
		fmt.Fprintf(tw, "flat\tflat%%\tcum\tcum%%\t\n")
		for _, r := range part.rows[:min(n, len(part.rows))] {
			fmt.Fprintf(tw, "%s\t%.1f%%\t%s\t%.1f%%\t  %s\n", report.ProfileValue(r.Flat, t.Unit), 100*r.FlatShare,
				report.ProfileValue(r.Cum, t.Unit), 100*r.CumShare, r.Function)
		}
	}
	return tw.Flush()
}
