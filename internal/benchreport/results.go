// Package benchreport reads `go test -bench` output (benchfmt) into result
// sets and their statistics, and compares two sets benchstat-style
// (`ringcast bench report OLD NEW`). Statistics come from
// golang.org/x/perf/benchmath: medians with their confidence intervals, and
// the Mann-Whitney U test for differences. The strategy report built on them
// (docs/benchmarks.md and its charts) is package benchdoc.
package benchreport

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchunit"
)

// Set is the samples of one or more results files: for each benchmark (its
// name without the -GOMAXPROCS suffix) and unit, every value measured.
type Set struct {
	Files  []string
	Config [][2]string // file configuration (goos, cpu, ringcast-*), first value of each key
	Procs  string      // GOMAXPROCS suffix of the first result ("2")

	rows  []string
	units map[string][]string // row -> units in order of appearance
	vals  map[string]map[string][]float64
}

func newSet() *Set {
	return &Set{units: map[string][]string{}, vals: map[string]map[string][]float64{}}
}

// Load reads and merges results files.
func Load(paths ...string) (*Set, error) {
	s := newSet()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		err = s.read(f, p)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if len(s.rows) == 0 {
		return nil, fmt.Errorf("report: no benchmark results in %s", strings.Join(paths, ", "))
	}
	return s, nil
}

// Parse reads one results stream.
func Parse(r io.Reader, name string) (*Set, error) {
	s := newSet()
	if err := s.read(r, name); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Set) read(r io.Reader, name string) error {
	s.Files = append(s.Files, name)
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			return rec
		case *benchfmt.Result:
			s.add(rec)
		}
	}
	return br.Err()
}

func (s *Set) add(res *benchfmt.Result) {
	for _, c := range res.Config {
		if !c.File || s.configValue(c.Key) != "" {
			continue
		}
		s.Config = append(s.Config, [2]string{c.Key, string(c.Value)})
	}
	row, procs := splitProcs(res.Name.String())
	if s.Procs == "" {
		s.Procs = procs
	}
	byUnit, ok := s.vals[row]
	if !ok {
		byUnit = map[string][]float64{}
		s.vals[row] = byUnit
		s.rows = append(s.rows, row)
	}
	for _, v := range res.Values {
		if _, ok := byUnit[v.Unit]; !ok {
			s.units[row] = append(s.units[row], v.Unit)
		}
		byUnit[v.Unit] = append(byUnit[v.Unit], v.Value)
	}
}

// splitProcs cuts go test's "-N" GOMAXPROCS suffix off a benchmark name.
func splitProcs(name string) (string, string) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name, ""
	}
	for _, r := range name[i+1:] {
		if r < '0' || r > '9' {
			return name, ""
		}
	}
	if i+1 == len(name) {
		return name, ""
	}
	return name[:i], name[i+1:]
}

func (s *Set) configValue(key string) string {
	for _, kv := range s.Config {
		if kv[0] == key {
			return kv[1]
		}
	}
	return ""
}

// ConfigValue returns a file configuration value ("cpu", "goos", ...).
func (s *Set) ConfigValue(key string) string { return s.configValue(key) }

// Rows lists the benchmarks in order of first appearance, without the
// "Benchmark" prefix and the GOMAXPROCS suffix.
func (s *Set) Rows() []string { return s.rows }

// Units lists a benchmark's units, tidied the way benchfmt tidies them
// ("ns/op" becomes "sec/op", "p99-ns" becomes "p99-sec").
func (s *Set) Units(row string) []string { return s.units[row] }

// Values returns the samples of row in unit; unit may be given untidied
// ("p99-ns").
func (s *Set) Values(row, unit string) []float64 {
	return s.vals[row][Tidy(unit)]
}

// Tidy returns the unit benchfmt stores for unit.
func Tidy(unit string) string {
	_, u := benchunit.Tidy(1, unit)
	return u
}
