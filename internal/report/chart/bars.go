package chart

import (
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// BarGroup is one named set of bars, one value per category.
type BarGroup struct {
	Name   string
	Values []float64
}

// BarOptions shape a Bars chart.
type BarOptions struct {
	Title, YLabel string
	// YMax fixes the top of the axis (a percentage's 100); 0 leaves a
	// quarter of headroom over the highest bar or reference.
	YMax float64
	// RefLabel, when set, draws a dashed horizontal line at RefY (a goal).
	RefY     float64
	RefLabel string
	// Slanted writes the category names at an angle (long names).
	Slanted bool
	// LegendBeside puts the legend right of the plot (many groups).
	LegendBeside bool
	// BarWidth is each bar's width (0: 80 points shared by the groups, at
	// most 40).
	BarWidth vg.Length
}

// Bars draws grouped bars over the named categories, y linear from zero.
func Bars(opts BarOptions, categories []string, groups []BarGroup) (*Chart, error) {
	p := newPlot(opts.Title, "", opts.YLabel)
	legend := &p.Legend
	if opts.LegendBeside {
		l := plot.NewLegend()
		legend = &l
	}
	legend.Top = true
	legend.Left = opts.LegendBeside
	w := opts.BarWidth
	if w == 0 {
		w = vg.Points(min(80/float64(max(len(groups), 1)), 40))
	}
	top := opts.RefY
	for i, g := range groups {
		vals := make(plotter.Values, len(categories))
		for j := range min(len(vals), len(g.Values)) {
			if v := g.Values[j]; !math.IsNaN(v) && !math.IsInf(v, 0) {
				vals[j] = v
				top = math.Max(top, v)
			}
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = colorOf(i)
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(len(groups)-1)/2)
		p.Add(b)
		if len(groups) > 1 || opts.LegendBeside {
			legend.Add(g.Name, b)
		}
	}
	if opts.RefLabel != "" {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: opts.RefY}, {X: float64(len(categories)) - 0.5, Y: opts.RefY}})
		if err != nil {
			return nil, err
		}
		l.Color = colorOf(1)
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		legend.Add(opts.RefLabel, l)
	}
	if opts.Slanted {
		slantCategories(p, categories)
	} else {
		p.NominalX(categories...)
	}
	p.X.Min, p.X.Max = -0.6, float64(len(categories))-0.4
	p.Y.Min = 0
	switch {
	case opts.YMax > 0:
		p.Y.Max = opts.YMax
	case top > 0:
		p.Y.Max = top * 1.25
	default:
		p.Y.Max = 1 // nothing to show: keep the axis drawable
	}
	c := &Chart{plot: p}
	if opts.LegendBeside {
		c.beside = legend
	}
	return c, nil
}
