package benchreport

import (
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchunit"
)

// CompareOptions select what a comparison shows.
type CompareOptions struct {
	// Units to show, untidied or tidied ("ns/op", "deliv/s"); all units
	// both sets share when empty.
	Units []string
	// Filter, if set, keeps the benchmarks whose name it matches.
	Filter *regexp.Regexp
}

// WriteComparison prints, for each unit, a benchstat-style table of the
// benchmarks old and new share: each side's median and spread, and the
// change with its p-value, or "~" when the Mann-Whitney U test finds no
// significant difference. A geomean row summarises each table.
func WriteComparison(w io.Writer, oldSet, newSet *Set, opt CompareOptions) error {
	var rows []string
	for _, r := range oldSet.Rows() {
		if _, ok := newSet.vals[r]; ok && (opt.Filter == nil || opt.Filter.MatchString(r)) {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("report: %s and %s share no benchmarks", strings.Join(oldSet.Files, ","), strings.Join(newSet.Files, ","))
	}
	units := opt.Units
	if len(units) == 0 {
		for _, r := range rows {
			for _, u := range oldSet.Units(r) {
				if !slices.Contains(units, u) && len(newSet.Values(r, u)) > 0 {
					units = append(units, u)
				}
			}
		}
	}
	oldName, newName := label(oldSet), label(newSet)
	var notes []string
	for _, unit := range units {
		type line struct {
			row      string
			old, new Stat
			delta    string
		}
		var lines []line
		var all []float64
		for _, r := range rows {
			o, ok1 := Summarize(oldSet.Values(r, unit))
			n, ok2 := Summarize(newSet.Values(r, unit))
			if !ok1 || !ok2 {
				continue
			}
			c := Compare(o, n)
			delta := c.FormatDelta(o.Center, n.Center) + " (" + c.String() + ")"
			for _, warn := range c.Warnings {
				if !slices.Contains(notes, warn.Error()) {
					notes = append(notes, warn.Error())
				}
			}
			lines = append(lines, line{r, o, n, delta})
			all = append(all, o.Center, n.Center)
		}
		if len(lines) == 0 {
			continue
		}
		scale := benchunit.CommonScale(all, benchunit.ClassOf(unit))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\t%s\t\t%s\t\t%s\n", "", oldName, newName, "")
		fmt.Fprintf(tw, "%s\t%s\t\t%s\t\tvs base\n", unit, unit, unit)
		var gOld, gNew []float64
		for _, l := range lines {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.row, scale.Format(l.old.Center), l.old.Spread(),
				scale.Format(l.new.Center), l.new.Spread(), l.delta)
			if l.old.Center > 0 && l.new.Center > 0 {
				gOld, gNew = append(gOld, l.old.Center), append(gNew, l.new.Center)
			}
		}
		if len(gOld) > 1 {
			go1, gn := geomean(gOld), geomean(gNew)
			fmt.Fprintf(tw, "geomean\t%s\t\t%s\t\t%+.2f%%\n", scale.Format(go1), scale.Format(gn), 100*(gn/go1-1))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

func label(s *Set) string {
	if len(s.Files) == 1 {
		return s.Files[0]
	}
	return strings.Join(s.Files, "+")
}

func geomean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += math.Log(x)
	}
	return math.Exp(sum / float64(len(xs)))
}
