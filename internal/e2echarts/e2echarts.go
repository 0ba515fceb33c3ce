// Package e2echarts draws the charts of the end-to-end report (package e2e)
// as SVG: kept apart from e2e so that the binary that measures links no
// chart code.
package e2echarts

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ringcast/ringcast/internal/e2e"
	"github.com/ringcast/ringcast/internal/report/chart"
)

// Write draws the report's charts (e2e.ChartFiles) into dir.
func Write(rep *e2e.Report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	draw := map[string]func(*e2e.Report) (*chart.Chart, error){
		"loss-free.svg":   lossFree,
		"deliveries.svg":  deliveries,
		"p99.svg":         p99,
		"idle-memory.svg": idleMemory,
	}
	for _, name := range e2e.ChartFiles {
		c, err := draw[name](rep)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if err := c.Save(filepath.Join(dir, name), 0, 0); err != nil {
			return err
		}
	}
	return nil
}

// ladderSeries is one line per engine and subscriber count, sorted by
// offered load.
func ladderSeries(rep *e2e.Report, y func(*e2e.Point) float64) []chart.Series {
	var out []chart.Series
	for _, engine := range rep.Config.Engines {
		for _, n := range rep.Config.Subscribers {
			var pts []*e2e.Point
			for _, p := range rep.Points {
				if p.Engine == engine && p.Subscribers == n && p.Measured() {
					pts = append(pts, p)
				}
			}
			sort.Slice(pts, func(i, j int) bool { return pts[i].Offered < pts[j].Offered })
			s := chart.Series{Name: fmt.Sprintf("%s, %d subscribers", engine, n), Dashed: engine != rep.Config.Engines[0], Marks: true}
			for _, p := range pts {
				s.X = append(s.X, p.Offered/1e6)
				s.Y = append(s.Y, y(p))
			}
			out = append(out, s)
		}
	}
	return out
}

func deliveries(rep *e2e.Report) (*chart.Chart, error) {
	series := ladderSeries(rep, func(p *e2e.Point) float64 { return p.Summary.Delivered / 1e6 })
	var maxX float64
	for _, s := range series {
		for _, x := range s.X {
			maxX = max(maxX, x)
		}
	}
	series = append(series, chart.Series{Name: "offered", X: []float64{0, maxX}, Y: []float64{0, maxX}, Dashed: true})
	return chart.Lines(chart.LineOptions{
		Title: "Delivered vs offered load", XLabel: "offered deliveries/s (millions)", YLabel: "delivered/s (millions)",
	}, series)
}

func lossFree(rep *e2e.Report) (*chart.Chart, error) {
	var all, bounded []float64
	for _, e := range rep.Config.Engines {
		v, w := 0.0, 0.0
		if p := rep.Best(e); p != nil {
			v = p.Summary.Delivered / 1e6
		}
		if p := rep.BestWithin(e, e2e.GoalP99Ms); p != nil {
			w = p.Summary.Delivered / 1e6
		}
		all, bounded = append(all, v), append(bounded, w)
	}
	return chart.Bars(chart.BarOptions{Title: "Highest loss-free delivery rate", YLabel: "million deliveries/s"}, rep.Config.Engines, []chart.BarGroup{
		{Name: "loss-free", Values: all},
		{Name: fmt.Sprintf("loss-free, p99 ≤ %d ms", e2e.GoalP99Ms), Values: bounded},
	})
}

func p99(rep *e2e.Report) (*chart.Chart, error) {
	return chart.Lines(chart.LineOptions{
		Title: "p99 latency (from intended send time) vs offered load", XLabel: "offered deliveries/s (millions)", YLabel: "p99, ms", LogY: true,
	}, ladderSeries(rep, func(p *e2e.Point) float64 { return p.Summary.P99 }))
}

func idleMemory(rep *e2e.Report) (*chart.Chart, error) {
	var names []string
	var vals []float64
	for _, id := range rep.Idle {
		names = append(names, id.Engine)
		vals = append(vals, id.BytesPerConn/1024)
	}
	return chart.Bars(chart.BarOptions{
		Title:  fmt.Sprintf("Server memory per idle connection (%d connections)", rep.Config.IdleConnections),
		YLabel: "KiB", RefY: e2e.GoalIdleBytes / 1024, RefLabel: "goal: 8 KiB",
	}, names, []chart.BarGroup{{Name: "RSS growth / connections", Values: vals}})
}
