package bench

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Scenario is one point of the benchmark matrix. Its Name is the
// sub-benchmark name, key=value pairs in the benchfmt convention, so
// benchstat and `ringcast bench report` can group and filter by any key.
type Scenario struct {
	Strategy  string
	Readers   int
	Batch     int // events per publish call
	Payload   int // payload bytes per event
	Consumers Mix // which consumers are slow
	Rate      int // events/s the publisher is paced to; 0: as fast as it can

	// Not part of the name: constant across a suite run and printed in the
	// results file header.
	Capacity   int           // buffer size, 0: DefaultCapacity
	StallLimit time.Duration // longest a stalled consumer holds out, 0: DefaultStallLimit
}

// Mix names the consumer mix.
type Mix string

const (
	AllFast    Mix = "fast"    // every consumer takes events as they come
	OneStalled Mix = "stalled" // consumer 0 stops reading (see Stalled)
	TenPctSlow Mix = "slow10"  // ceil(10%) of consumers are Slow
)

// Defaults of the suite.
const (
	DefaultCapacity   = 1024
	DefaultRate       = 10_000 // paced runs: low enough for every strategy at 64 readers on 2 cores
	DefaultStallLimit = time.Second
	DefaultPayload    = 64
)

// classes assigns each consumer its Class under mix m.
func (m Mix) classes(readers int) ([]Class, error) {
	cs := make([]Class, readers)
	switch m {
	case AllFast:
	case OneStalled:
		cs[0] = Stalled
	case TenPctSlow:
		for i := range (readers + 9) / 10 {
			cs[i] = Slow
		}
	default:
		return nil, fmt.Errorf("bench: unknown consumer profile %q (want fast, stalled or slow10)", m)
	}
	return cs, nil
}

// Name is the scenario's sub-benchmark name.
func (s Scenario) Name() string {
	rate := "max"
	if s.Rate > 0 {
		rate = formatRate(s.Rate)
	}
	return fmt.Sprintf("strategy=%s/readers=%d/batch=%d/payload=%d/consumers=%s/rate=%s",
		s.Strategy, s.Readers, s.Batch, s.Payload, s.Consumers, rate)
}

func (s Scenario) String() string { return s.Name() }

func formatRate(r int) string {
	switch {
	case r%1_000_000 == 0:
		return strconv.Itoa(r/1_000_000) + "M"
	case r%1000 == 0:
		return strconv.Itoa(r/1000) + "k"
	}
	return strconv.Itoa(r)
}

func parseRate(v string) (int, error) {
	if v == "max" {
		return 0, nil
	}
	mult := 1
	switch {
	case strings.HasSuffix(v, "k"):
		mult, v = 1000, strings.TrimSuffix(v, "k")
	case strings.HasSuffix(v, "M"):
		mult, v = 1_000_000, strings.TrimSuffix(v, "M")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("rate %q: want max or a positive events/s such as 10000 or 10k", v)
	}
	return n * mult, nil
}

// capacity and stallLimit apply the defaults.
func (s Scenario) capacity() int {
	if s.Capacity > 0 {
		return s.Capacity
	}
	return DefaultCapacity
}

func (s Scenario) stallLimit() time.Duration {
	if s.StallLimit > 0 {
		return s.StallLimit
	}
	return DefaultStallLimit
}

// Validate reports what is wrong with s, naming the field.
func (s Scenario) Validate() error {
	if _, ok := LookupStrategy(s.Strategy); !ok {
		return fmt.Errorf("bench: unknown strategy %q (have %s)", s.Strategy, StrategyNames())
	}
	if s.Payload < 8 {
		return fmt.Errorf("bench: payload must be at least 8 bytes, got %d", s.Payload)
	}
	if s.Rate < 0 {
		return fmt.Errorf("bench: rate must be positive or 0 (as fast as possible), got %d", s.Rate)
	}
	if s.Consumers != AllFast && s.Readers < 2 {
		return fmt.Errorf("bench: consumers=%s needs at least 2 readers, so that some are healthy", s.Consumers)
	}
	if _, err := s.Consumers.classes(max(s.Readers, 0)); err != nil {
		return err
	}
	return Config{Readers: s.Readers, Capacity: s.capacity(), Batch: s.Batch}.validate()
}

// DefaultScenario is the base that ParseScenario fills in: the ring, 16
// fast readers, single events of 64 bytes, as fast as possible.
func DefaultScenario() Scenario {
	return Scenario{Strategy: "ring-adaptive", Readers: 16, Batch: 1, Payload: DefaultPayload, Consumers: AllFast}
}

// ParseScenario reads a scenario from its Name, with or without the leading
// "BenchmarkFanout/" and the "-GOMAXPROCS" suffix go test appends. Keys that
// are missing keep DefaultScenario's values; aliases (see Aliases) are
// accepted too.
func ParseScenario(name string) (Scenario, error) {
	if sc, ok := alias(name); ok {
		return sc, sc.Validate()
	}
	sc := DefaultScenario()
	name = strings.TrimPrefix(name, "BenchmarkFanout/")
	if i := strings.LastIndexByte(name, '-'); i > 0 && !strings.Contains(name[i:], "=") && !strings.Contains(name[i:], "/") {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	for _, part := range strings.Split(name, "/") {
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return Scenario{}, fmt.Errorf("bench: scenario %q: %q is not key=value (or an alias: %s)", name, part, strings.Join(AliasNames(), ", "))
		}
		var err error
		switch key {
		case "strategy":
			sc.Strategy = val
		case "readers":
			sc.Readers, err = strconv.Atoi(val)
		case "batch":
			sc.Batch, err = strconv.Atoi(val)
		case "payload":
			sc.Payload, err = strconv.Atoi(val)
		case "consumers":
			sc.Consumers = Mix(val)
		case "rate":
			sc.Rate, err = parseRate(val)
		default:
			return Scenario{}, fmt.Errorf("bench: scenario %q: unknown key %q (want strategy, readers, batch, payload, consumers, rate)", name, key)
		}
		if err != nil {
			return Scenario{}, fmt.Errorf("bench: scenario %q: %s: %v", name, key, err)
		}
	}
	return sc, sc.Validate()
}

// Aliases are the headline scenarios by short name, for `make profile
// SCENARIO=...` and the report's profile links.
var aliases = []struct {
	name string
	doc  string
	sc   func(n int) Scenario
}{
	{"fanout-N", "ring-adaptive, N fast readers, as fast as possible", func(n int) Scenario {
		return Scenario{Strategy: "ring-adaptive", Readers: n, Batch: 1, Payload: DefaultPayload, Consumers: AllFast}
	}},
	{"chan-fanout-N", "chan-drop-oldest, N fast readers, as fast as possible", func(n int) Scenario {
		return Scenario{Strategy: "chan-drop-oldest", Readers: n, Batch: 1, Payload: DefaultPayload, Consumers: AllFast}
	}},
	{"stalled-N", "ring-adaptive, N readers of which one stalls, paced", func(n int) Scenario {
		return Scenario{Strategy: "ring-adaptive", Readers: n, Batch: 1, Payload: DefaultPayload, Consumers: OneStalled, Rate: DefaultRate}
	}},
	{"block-stalled-N", "chan-block, N readers of which one stalls, paced", func(n int) Scenario {
		return Scenario{Strategy: "chan-block", Readers: n, Batch: 1, Payload: DefaultPayload, Consumers: OneStalled, Rate: DefaultRate}
	}},
}

func alias(name string) (Scenario, bool) {
	for _, a := range aliases {
		prefix := strings.TrimSuffix(a.name, "N")
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(rest); err == nil && n > 0 {
			return a.sc(n), true
		}
	}
	return Scenario{}, false
}

// AliasNames lists the aliases with what they stand for.
func AliasNames() []string {
	out := make([]string, len(aliases))
	for i, a := range aliases {
		out[i] = a.name
	}
	return out
}

// AliasHelp describes every alias, one per line.
func AliasHelp() string {
	var b strings.Builder
	for _, a := range aliases {
		fmt.Fprintf(&b, "  %-16s %s\n", a.name, a.doc)
	}
	return b.String()
}

// Matrix names.
const (
	MatrixDefault = "default" // what `make bench` runs: about 11 minutes at BENCH_COUNT=5, with the views
	MatrixFull    = "full"    // every combination of the dimensions
	MatrixQuick   = "quick"   // a handful, for smoke runs
)

// MatrixEnv selects the matrix BenchmarkFanout runs.
const MatrixEnv = "RINGCAST_BENCH_MATRIX"

// FilterEnv, if set, is a regular expression: the benchmarks run only the
// scenarios whose name it matches.
const FilterEnv = "RINGCAST_BENCH_FILTER"

// ScenariosEnv, if set, lists the scenarios BenchmarkFanout runs instead of
// a matrix, separated by commas: names as Scenario.Name writes them, or
// aliases (ParseScenario). With -benchtime Nx and -count it repeats one
// fixed-rate run, as the probe counts in docs/ring.md were taken.
const ScenariosEnv = "RINGCAST_BENCH_SCENARIOS"

// MatrixFromEnv returns the scenarios listed in $RINGCAST_BENCH_SCENARIOS,
// or else the matrix named by $RINGCAST_BENCH_MATRIX (default when unset),
// filtered by $RINGCAST_BENCH_FILTER.
func MatrixFromEnv() ([]Scenario, error) {
	if list := os.Getenv(ScenariosEnv); list != "" {
		var out []Scenario
		for _, name := range strings.Split(list, ",") {
			sc, err := ParseScenario(strings.TrimSpace(name))
			if err != nil {
				return nil, fmt.Errorf("bench: $%s: %w", ScenariosEnv, err)
			}
			out = append(out, sc)
		}
		return out, nil
	}
	name := os.Getenv(MatrixEnv)
	if name == "" {
		name = MatrixDefault
	}
	m, err := Matrix(name)
	if err != nil {
		return nil, err
	}
	return FilterScenarios(m, os.Getenv(FilterEnv), Scenario.Name)
}

// FilterScenarios keeps the scenarios whose name (by nameOf) matches the
// regular expression expr; an empty expr keeps all.
func FilterScenarios(m []Scenario, expr string, nameOf func(Scenario) string) ([]Scenario, error) {
	if expr == "" {
		return m, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("bench: filter %q: %v", expr, err)
	}
	var out []Scenario
	for _, sc := range m {
		if re.MatchString(nameOf(sc)) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// SustainedName is the sub-benchmark name of a BenchmarkSustained point: the
// keys the search does not set.
func (s Scenario) SustainedName() string {
	return fmt.Sprintf("strategy=%s/readers=%d/batch=%d/payload=%d", s.Strategy, s.Readers, s.Batch, s.Payload)
}

// SustainedMatrixFromEnv is the BenchmarkSustained matrix for
// $RINGCAST_BENCH_MATRIX.
func SustainedMatrixFromEnv() ([]Scenario, error) {
	name := os.Getenv(MatrixEnv)
	if name == "" {
		name = MatrixDefault
	}
	m, err := SustainedMatrix(name)
	if err != nil {
		return nil, err
	}
	return FilterScenarios(m, os.Getenv(FilterEnv), Scenario.SustainedName)
}

// SustainedMatrix is every strategy at 1, 16, 64 and 256 readers, batch 1
// and 64, 64-byte payloads (default); every reader count and both payloads
// (full); 1 and 16 readers, batch 1 (quick).
func SustainedMatrix(name string) ([]Scenario, error) {
	readers, batches, payloads := ReaderCounts, Batches, []int{DefaultPayload}
	switch name {
	case MatrixDefault:
		readers = []int{1, 16, 64, 256} // 4 would cost a minute of make bench's ten
	case MatrixFull:
		payloads = Payloads
	case MatrixQuick:
		readers, batches = []int{1, 16}, []int{1}
	default:
		return nil, fmt.Errorf("bench: unknown matrix %q (want %s, %s or %s)", name, MatrixDefault, MatrixFull, MatrixQuick)
	}
	var out []Scenario
	for _, st := range Strategies() {
		for _, pl := range payloads {
			for _, b := range batches {
				for _, n := range readers {
					if st.MaxReaders > 0 && n > st.MaxReaders {
						continue
					}
					out = append(out, Scenario{Strategy: st.Name, Readers: n, Batch: b, Payload: pl, Consumers: AllFast})
				}
			}
		}
	}
	return out, nil
}

// Dimensions of the full matrix.
var (
	ReaderCounts = []int{1, 4, 16, 64, 256}
	Batches      = []int{1, 64}
	Payloads     = []int{64, 1024}
	Mixes        = []Mix{AllFast, OneStalled, TenPctSlow}
	Rates        = []int{0, DefaultRate}
)

// Matrix returns the named scenario matrix.
//
// default: every strategy flat out at 1, 16 and 256 fast readers (batch 1
// and 64, 64 B; BenchmarkSustained covers every reader count); the 1 KiB
// payload at 16 readers; and
// the consumer profiles at 16 and 64 readers, paced (for latency) and at
// 16 readers unpaced (for loss and publisher slow-down).
// full: every combination of ReaderCounts × Batches × Payloads × Mixes ×
// Rates that makes sense (a profile with slow consumers needs 2+ readers).
// quick: 1 and 16 readers flat out, and 16 paced with and without a stalled
// reader, for a smoke run.
func Matrix(name string) ([]Scenario, error) {
	var out []Scenario
	add := func(strats []Strategy, readers, batches, payloads []int, profiles []Mix, rates []int) {
		for _, st := range strats {
			for _, rate := range rates {
				for _, p := range profiles {
					for _, pl := range payloads {
						for _, b := range batches {
							for _, n := range readers {
								if st.MaxReaders > 0 && n > st.MaxReaders || p != AllFast && n < 2 {
									continue
								}
								out = append(out, Scenario{Strategy: st.Name, Readers: n, Batch: b, Payload: pl, Consumers: p, Rate: rate})
							}
						}
					}
				}
			}
		}
	}
	all := Strategies()
	switch name {
	case MatrixDefault:
		add(all, []int{1, 16, 256}, Batches, []int{64}, []Mix{AllFast}, []int{0})
		add(all, []int{16}, []int{1}, []int{1024}, []Mix{AllFast}, []int{0})
		add(all, []int{16, 64}, []int{1}, []int{64}, Mixes, []int{DefaultRate})
		add(all, []int{16}, []int{1}, []int{64}, []Mix{OneStalled, TenPctSlow}, []int{0})
	case MatrixFull:
		add(all, ReaderCounts, Batches, Payloads, Mixes, Rates)
	case MatrixQuick:
		add(all, []int{1, 16}, []int{1}, []int{64}, []Mix{AllFast}, []int{0})
		add(all, []int{16}, []int{1}, []int{64}, []Mix{AllFast, OneStalled}, []int{DefaultRate})
	default:
		return nil, fmt.Errorf("bench: unknown matrix %q (want %s, %s or %s)", name, MatrixDefault, MatrixFull, MatrixQuick)
	}
	return out, nil
}

// FileConfig is the configuration shared by every scenario of a suite run,
// as benchfmt "key: value" pairs for the head of a results file.
func FileConfig() [][2]string {
	matrix := os.Getenv(MatrixEnv)
	if matrix == "" {
		matrix = MatrixDefault
	}
	return [][2]string{
		{"ringcast-matrix", matrix},
		{"ringcast-capacity", strconv.Itoa(DefaultCapacity)},
		{"ringcast-stall-limit", DefaultStallLimit.String()},
		{"ringcast-slow-per-event", SlowPerEvent.String()},
		{"ringcast-sample-every", strconv.Itoa(SampleEvery)},
	}
}
