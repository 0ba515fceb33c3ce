package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/ringcast/ringcast/internal/report/proftop"
)

// ProfileResult names the files a profiled scenario wrote and summarises them.
type ProfileResult struct {
	Scenario  Scenario
	Runs      int
	Events    uint64
	Elapsed   time.Duration
	CPUFile   string
	HeapFile  string
	CPU, Heap proftop.Top // heap: alloc_space, what the runs allocated
}

// ProfileFileBase is the file name stem for a scenario's profiles: its alias
// when it has one, else its name with the separators made file-safe.
func ProfileFileBase(label string) string {
	r := strings.NewReplacer("/", "_", "=", "-", " ", "_")
	return r.Replace(label)
}

// Profile runs sc over and over for about d under the CPU profiler, with the
// heap profiler sampling an allocation every 4 KiB on average, and writes
// dir/<base>.cpu.pprof and dir/<base>.heap.pprof (the allocations of these
// runs only, setup included). progress, if not nil, gets a line per run.
func Profile(sc Scenario, d time.Duration, dir, base string, progress func(string)) (*ProfileResult, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	res := &ProfileResult{
		Scenario: sc,
		CPUFile:  filepath.Join(dir, base+".cpu.pprof"),
		HeapFile: filepath.Join(dir, base+".heap.pprof"),
	}
	oldRate := runtime.MemProfileRate
	runtime.MemProfileRate = 4096
	defer func() { runtime.MemProfileRate = oldRate }()
	runtime.GC() // start the heap profile's cycle from a clean slate
	// The heap profile counts allocations since the process started; the
	// scenario's own are the difference between a snapshot now and one at
	// the end.
	before, err := heapSnapshot()
	if err != nil {
		return nil, err
	}

	cpu, err := os.Create(res.CPUFile)
	if err != nil {
		return nil, err
	}
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return nil, fmt.Errorf("bench: start CPU profile: %w", err)
	}
	events := 10_000
	if sc.Rate > 0 {
		events = max(sc.Rate/4, sc.Batch) // a quarter second per run
	}
	start := time.Now()
	for time.Since(start) < d {
		r, err := Run(sc, RunOptions{Events: events})
		if err != nil {
			pprof.StopCPUProfile()
			return nil, err
		}
		res.Runs++
		res.Events += r.Published
		if progress != nil {
			progress(fmt.Sprintf("run %d: %d events in %v", res.Runs, r.Published, r.Elapsed.Round(time.Microsecond)))
		}
		if sc.Rate == 0 && r.Elapsed < 100*time.Millisecond {
			events *= 2
		}
	}
	res.Elapsed = time.Since(start)
	pprof.StopCPUProfile()
	if err := cpu.Close(); err != nil {
		return nil, err
	}
	runtime.GC() // the heap profile reports as of the last GC
	after, err := heapSnapshot()
	if err != nil {
		return nil, err
	}
	before.Scale(-1)
	delta, err := profile.Merge([]*profile.Profile{after, before})
	if err != nil {
		return nil, fmt.Errorf("bench: heap profile delta: %w", err)
	}
	heap, err := os.Create(res.HeapFile)
	if err != nil {
		return nil, err
	}
	defer heap.Close()
	if err := delta.Write(heap); err != nil {
		return nil, err
	}
	if err := heap.Close(); err != nil {
		return nil, err
	}
	if res.CPU, err = topOf(res.CPUFile, "cpu"); err != nil {
		return nil, err
	}
	if res.Heap, err = topOf(res.HeapFile, "alloc_space"); err != nil {
		return nil, err
	}
	return res, nil
}

func heapSnapshot() (*profile.Profile, error) {
	var buf bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&buf, 0); err != nil {
		return nil, err
	}
	return profile.Parse(&buf)
}

func topOf(path, sampleType string) (proftop.Top, error) {
	f, err := os.Open(path)
	if err != nil {
		return proftop.Top{}, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return proftop.Top{}, fmt.Errorf("bench: %s: %w", path, err)
	}
	return proftop.Compute(p, sampleType)
}

// ReadProfiles summarises profiles an earlier Profile call wrote.
func ReadProfiles(sc Scenario, dir, base string) (*ProfileResult, error) {
	res := &ProfileResult{
		Scenario: sc,
		CPUFile:  filepath.Join(dir, base+".cpu.pprof"),
		HeapFile: filepath.Join(dir, base+".heap.pprof"),
	}
	var err error
	if res.CPU, err = topOf(res.CPUFile, "cpu"); err != nil {
		return nil, err
	}
	if res.Heap, err = topOf(res.HeapFile, "alloc_space"); err != nil {
		return nil, err
	}
	return res, nil
}
