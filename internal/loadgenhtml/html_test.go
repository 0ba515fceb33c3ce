package loadgenhtml

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ringcast/ringcast/internal/lgtest"
	"github.com/ringcast/ringcast/internal/ssetest"
	"github.com/ringcast/ringcast/loadgen"
)

func TestPageIsSelfContained(t *testing.T) {
	srv := lgtest.Serve(t, ssetest.Options{})
	res := lgtest.Run(t, loadgen.Config{URL: srv.URL, Subscribers: 3, Rate: 200, Duration: 600 * time.Millisecond})
	var page bytes.Buffer
	if err := Write(&page, res); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	if n := strings.Count(html, "<svg"); n != 3 {
		t.Fatalf("%d charts in the page, want 3", n)
	}
	// Self-contained: nothing to fetch.
	for _, bad := range []string{"<script", "<link", "src=", "@import", "url(http"} {
		if strings.Contains(html, bad) {
			t.Fatalf("page contains %q", bad)
		}
	}
}

// A result with nothing measured (a run that failed early) still gets its
// page, each chart saying it has no data.
func TestChartsWithoutData(t *testing.T) {
	var page bytes.Buffer
	if err := Write(&page, &loadgen.Result{}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(page.String(), "(no data)"); n != 3 {
		t.Fatalf("%d charts say they have no data, want 3", n)
	}
}
