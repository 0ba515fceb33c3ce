package transport

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// exposition is a scrape of GET /metrics: each sample line's series (name
// and labels, as written) and value.
type exposition struct {
	text   string
	series map[string]float64
	names  map[string]bool // metric names, labels cut off
}

func scrapeMetrics(t *testing.T, addr string) exposition {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	e := exposition{text: string(b), series: map[string]float64{}, names: map[string]bool{}}
	for _, line := range strings.Split(e.text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("/metrics: a malformed line %q", line)
		}
		e.series[line[:i]] = v
		name, _, _ := strings.Cut(line[:i], "{")
		e.names[name] = true
	}
	return e
}

// scrapeBusyServer starts a server, makes every histogram see something (a
// publish, a write to a client), and scrapes it.
func scrapeBusyServer(t *testing.T) exposition {
	t.Helper()
	ts := startServer(t, Config{})
	c := dial(t, ts.addr, "/events", dialOpt{})
	ts.publishN("a", 3, "e")
	c.next(3, 5*time.Second)
	if st, _ := ts.post("text/plain", "x"); st != 415 {
		t.Fatalf("a rejected publish: %d", st)
	}
	return scrapeMetrics(t, ts.addr)
}

// The histograms are Prometheus histograms: cumulative _bucket series with
// an le label ending at +Inf, then _sum and _count, which is what
// histogram_quantile reads (VictoriaMetrics' vmrange buckets are not).
func TestMetricsHistogramsArePrometheus(t *testing.T) {
	e := scrapeBusyServer(t)
	if strings.Contains(e.text, "vmrange") {
		t.Errorf("/metrics still serves vmrange buckets, which Prometheus cannot aggregate")
	}
	le := regexp.MustCompile(`^(\w+)_bucket\{le="([^"]+)"\}$`)
	for _, name := range []string{mPublishDuration, mWriteDuration, mBatchSize, mBatchBytes} {
		type bucket struct {
			le    float64
			count float64
		}
		var buckets []bucket
		for s, v := range e.series {
			m := le.FindStringSubmatch(s)
			if m == nil || m[1] != name {
				continue
			}
			b, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				t.Fatalf("%s: le %q", s, m[2])
			}
			buckets = append(buckets, bucket{b, v})
		}
		slices.SortFunc(buckets, func(a, b bucket) int { return int(math.Copysign(1, a.le-b.le)) })
		count, hasCount := e.series[name+"_count"]
		_, hasSum := e.series[name+"_sum"]
		switch {
		case len(buckets) < 5:
			t.Errorf("%s: %d le buckets; want a Prometheus histogram", name, len(buckets))
			continue
		case !math.IsInf(buckets[len(buckets)-1].le, 1) || !hasCount || !hasSum:
			t.Errorf("%s: no +Inf bucket, _sum or _count", name)
			continue
		case buckets[len(buckets)-1].count != count || count < 1:
			t.Errorf("%s: +Inf bucket %v, _count %v; want them equal and not zero", name, buckets[len(buckets)-1].count, count)
		}
		for i := 1; i < len(buckets); i++ {
			if buckets[i].count < buckets[i-1].count {
				t.Errorf("%s: bucket le=%v holds %v, less than le=%v: not cumulative", name, buckets[i].le, buckets[i].count, buckets[i-1].le)
			}
		}
	}
}

// grafanaQueries returns every PromQL expression of the dashboard's panels
// and template variables.
func grafanaQueries(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		UID    string
		Panels []struct {
			Title, Type string
			Targets     []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name  string
				Query any
			}
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("%s: no title, uid or panels", path)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type == "row" || p.Type == "text" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q: a target without an expression", p.Title)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok && strings.Contains(q, "(") {
			exprs = append(exprs, q)
		}
	}
	return exprs
}

// Every query of the shipped Grafana dashboard names only metrics that
// /metrics serves, reads histograms through their le buckets, and takes
// rate() only of counters.
func TestGrafanaDashboardQueriesServedMetrics(t *testing.T) {
	exprs := grafanaQueries(t, "../docs/grafana/ringcast.json")
	e := scrapeBusyServer(t)
	metricName := regexp.MustCompile(`\b(?:ringcast|process|go)_[a-zA-Z0-9_]+`)
	quantileOfBuckets := regexp.MustCompile(`histogram_quantile\([^,]+, sum by \(le(, \w+)*\) \(rate\(\w+_bucket(\{[^}]*\})?\[`)
	rated := regexp.MustCompile(`\b(?:rate|irate|increase)\(\s*((?:ringcast|process|go)_[a-zA-Z0-9_]+)`)
	used := map[string]bool{}
	for _, x := range exprs {
		for _, name := range metricName.FindAllString(x, -1) {
			used[name] = true
			if !e.names[name] {
				t.Errorf("the dashboard queries %s, which /metrics does not serve: %s", name, x)
			}
		}
		for _, m := range rated.FindAllStringSubmatch(x, -1) {
			if n := m[1]; !strings.HasSuffix(n, "_total") && !strings.HasSuffix(n, "_bucket") &&
				!strings.HasSuffix(n, "_sum") && !strings.HasSuffix(n, "_count") {
				t.Errorf("the dashboard takes the rate of %s, not a counter: %s", n, x)
			}
		}
		if strings.Contains(x, "histogram_quantile") && !quantileOfBuckets.MatchString(x) {
			t.Errorf("a quantile that does not read le buckets by le: %s", x)
		}
		for _, name := range metricName.FindAllString(x, -1) {
			if strings.HasSuffix(name, "_bucket") && !strings.Contains(e.text, "\n"+name+`{le="`) {
				t.Errorf("the dashboard reads %s, which /metrics serves without le buckets: %s", name, x)
			}
		}
	}
	// The dashboard covers what an operator watches: every histogram, the
	// losses and the refusals.
	for _, name := range []string{
		mPublishDuration + "_bucket", mWriteDuration + "_bucket", mBatchSize + "_bucket", mBatchBytes + "_bucket",
		mEventsPublished, mEventsDelivered, mConnections, mLaggedEvents, mDroppedEvents, mDisconnects,
		mResets, mRejected, mConnsRejected, mRequestsRejected, mMaxLag,
	} {
		if !used[name] {
			t.Errorf("the dashboard has no panel on %s", name)
		}
	}
}
