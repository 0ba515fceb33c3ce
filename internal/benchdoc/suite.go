package benchdoc

import (
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ringcast/ringcast/bench"
	"github.com/ringcast/ringcast/internal/benchreport"
	"github.com/ringcast/ringcast/internal/benchsuite"
)

// WriteSuiteDoc (re)writes the report of a suite run from the files it
// left under root: the results file o.Results and the headline profiles in
// o.ProfileDir. command names what produced the results when the results
// file does not say.
func WriteSuiteDoc(root string, o benchsuite.Options, command string) error {
	set, err := benchreport.Load(benchsuite.Resolve(root, o.Results))
	if err != nil {
		return err
	}
	docDir := filepath.Dir(benchsuite.Resolve(root, o.Doc))
	rel := func(p string) string {
		r, err := filepath.Rel(docDir, benchsuite.Resolve(root, p))
		if err != nil {
			return p
		}
		return filepath.ToSlash(r)
	}
	// What produced the results, from the file when it says (see
	// benchsuite.Run), else from the options and the tree as it is now.
	or := func(key, fallback string) string {
		if v := set.ConfigValue(key); v != "" {
			return v
		}
		return fallback
	}
	count, _ := strconv.Atoi(or("ringcast-count", strconv.Itoa(o.Count)))
	opt := DocOptions{
		Command:     or("ringcast-command", command),
		Date:        or("ringcast-date", time.Now().UTC().Format("2006-01-02 15:04 UTC")),
		Commit:      or("ringcast-commit", benchsuite.GitCommit(root)),
		GoVersion:   or("ringcast-go", runtime.Version()),
		Benchtime:   or("ringcast-benchtime", o.Benchtime),
		Count:       count,
		Load:        loadAverages(set),
		ResultsLink: rel(o.Results),
		ImgDir:      benchsuite.Resolve(root, o.ImgDir),
		ImgLink:     rel(o.ImgDir),
		Profiles:    headlineProfiles(root, o, rel),
	}
	if err := WriteDoc(benchsuite.Resolve(root, o.Doc), set, opt); err != nil {
		return err
	}
	if o.Log != nil {
		o.Log.Info("report written", "doc", o.Doc, "charts", o.ImgDir)
	}
	return nil
}

// headlineProfiles summarises the headline scenarios' profiles found in
// o.ProfileDir, linked as rel says.
func headlineProfiles(root string, o benchsuite.Options, rel func(string) string) []ProfileLink {
	var out []ProfileLink
	for _, name := range benchsuite.Headline {
		sc, err := bench.ParseScenario(name)
		if err != nil {
			continue
		}
		pr, err := bench.ReadProfiles(sc, benchsuite.Resolve(root, o.ProfileDir), bench.ProfileFileBase(name))
		if err != nil {
			continue
		}
		out = append(out, ProfileLink{Label: name, Scenario: pr.Scenario.Name(), CPULink: rel(pr.CPUFile), HeapLink: rel(pr.HeapFile), CPU: pr.CPU, Heap: pr.Heap})
	}
	return out
}

// loadAverages returns the load averages the suite recorded before each part
// of the run (benchsuite.LoadKeyPrefix), in the file's order.
func loadAverages(set *benchreport.Set) []float64 {
	var load []float64
	for _, kv := range set.Config {
		if !strings.HasPrefix(kv[0], benchsuite.LoadKeyPrefix) {
			continue
		}
		if v, err := strconv.ParseFloat(kv[1], 64); err == nil {
			load = append(load, v)
		}
	}
	return load
}
