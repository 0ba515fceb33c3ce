//go:build tools

// Package deps pins the modules that several packages share, so that helpers
// working in parallel never race on go.mod. It is never built.
package deps

import (
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/VictoriaMetrics/metrics"
	_ "github.com/google/pprof/profile"
	_ "github.com/valyala/fasthttp"
	_ "go.uber.org/atomic"
	_ "go.uber.org/goleak"
	_ "golang.org/x/perf/benchfmt"
	_ "golang.org/x/perf/benchmath"
	_ "gonum.org/v1/plot"
	_ "gonum.org/v1/plot/vg/vgsvg"
)
