package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ringcast/ringcast/internal/cpuclock"
)

// selfCPU returns the CPU seconds (user + system) this process has used; 0
// where that is not known (the report then shows no client CPU).
func selfCPU() float64 {
	d, err := cpuclock.Process()
	if err != nil {
		return 0
	}
	return d.Seconds()
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It
// is 100 on every Linux architecture Go supports (the kernel fixes it for the
// ABI), which gives CPU time to 10 ms: enough over a one-second interval.
const clockTicks = 100

// procSample is a point-in-time reading of a process: resident memory, CPU
// time used so far and open file descriptors.
type procSample struct {
	RSS    int64   // bytes
	CPUSec float64 // user + system seconds since the process started
	FDs    int64   // open descriptors; -1 when unknown
}

// procSource reads a process's resident memory and CPU time.
type procSource interface {
	sample(ctx context.Context) (procSample, error)
	describe() string
}

// pidSource reads /proc/<pid> of each of the server's processes and sums
// them: a cluster's nodes count as one server.
type pidSource struct{ pids []int }

func (s pidSource) describe() string {
	var b strings.Builder
	for i, pid := range s.pids {
		if i > 0 {
			b.WriteString(" + ")
		}
		fmt.Fprintf(&b, "/proc/%d", pid)
	}
	return b.String()
}

func (s pidSource) sample(context.Context) (procSample, error) {
	var sum procSample
	for _, pid := range s.pids {
		p, err := readProc(pid)
		if err != nil {
			return procSample{}, err
		}
		sum.RSS += p.RSS
		sum.CPUSec += p.CPUSec
		if p.FDs < 0 || sum.FDs < 0 {
			sum.FDs = -1
		} else {
			sum.FDs += p.FDs
		}
	}
	return sum, nil
}

func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: the
	// fields are counted after its closing parenthesis.
	r := bytes.LastIndexByte(stat, ')')
	if r < 0 {
		return procSample{}, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(stat[r+1:]))
	// After ")", f[0] is field 3 (state); utime is field 14, stime 15, rss 24.
	if len(f) < 22 {
		return procSample{}, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	rssPages, err3 := strconv.ParseInt(f[21], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procSample{}, fmt.Errorf("malformed /proc stat: %v", err)
	}
	return procSample{
		RSS:    rssPages * int64(os.Getpagesize()),
		CPUSec: float64(utime+stime) / clockTicks,
		FDs:    countFDs(pid),
	}, nil
}

// countFDs counts the entries of /proc/<pid>/fd (another user's process:
// -1, unknown). Names only: no stat per descriptor.
func countFDs(pid int) int64 {
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return -1
	}
	return int64(len(names))
}

// metricsSource scrapes a Prometheus text endpoint for the standard process
// metrics (process_resident_memory_bytes, process_cpu_seconds_total), which
// VictoriaMetrics/metrics and the Prometheus client both export.
type metricsSource struct {
	url    string
	client *http.Client
}

func (s metricsSource) describe() string { return s.url }

func (s metricsSource) sample(ctx context.Context) (procSample, error) {
	m, err := scrapeMetrics(ctx, s.client, s.url)
	if err != nil {
		return procSample{}, err
	}
	rss, ok1 := m["process_resident_memory_bytes"]
	cpu, ok2 := m["process_cpu_seconds_total"]
	if !ok1 || !ok2 {
		return procSample{}, errors.New("no process_resident_memory_bytes / process_cpu_seconds_total")
	}
	fds := int64(-1)
	if v, ok := m["process_open_fds"]; ok {
		fds = int64(v)
	}
	return procSample{RSS: int64(rss), CPUSec: cpu, FDs: fds}, nil
}

// scrapeMetrics reads Prometheus text exposition: series (name with labels, as
// written) to value. Comments and malformed lines are skipped.
func scrapeMetrics(ctx context.Context, c *http.Client, url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return parseMetrics(io.LimitReader(resp.Body, 16<<20))
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the series; a label value may hold spaces, so
		// split after the closing brace when there is one.
		cut := strings.LastIndexByte(line, '}')
		rest := line[cut+1:]
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		name := strings.TrimSpace(line[:cut+1])
		if cut < 0 {
			name = fields[0]
			fields = fields[1:]
			if len(fields) == 0 {
				continue
			}
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[name] = v
	}
	return out, sc.Err()
}

// CounterDelta is how much one server counter grew during the measured phase.
type CounterDelta struct {
	Series string  `json:"series"`
	Delta  float64 `json:"delta"`
}

// counterDeltas returns the counters (series ending in _total, or labelled
// ones whose name does) that grew between two scrapes, largest first.
func counterDeltas(before, after map[string]float64) []CounterDelta {
	var out []CounterDelta
	for k, v := range after {
		name := k
		if i := strings.IndexByte(k, '{'); i >= 0 {
			name = k[:i]
		}
		if !strings.HasSuffix(name, "_total") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "go_") {
			continue
		}
		if d := v - before[k]; d != 0 {
			out = append(out, CounterDelta{Series: k, Delta: d})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Delta != out[j].Delta {
			return out[i].Delta > out[j].Delta
		}
		return out[i].Series < out[j].Series
	})
	return out
}
