package chart

import (
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Series is one named line of a Lines chart.
type Series struct {
	Name   string
	X, Y   []float64
	Dashed bool
	// Marks draws every data point (for sparse series such as load points).
	Marks bool
}

// LineOptions shape a Lines chart.
type LineOptions struct {
	Title, XLabel, YLabel string
	LogY                  bool
	// XTicks, when set, replaces the automatic ticks of the X axis.
	XTicks []plot.Tick
}

// Lines draws series against linear x and linear or log y, the legend in
// the top left corner over headroom left for it.
func Lines(opts LineOptions, series []Series) (*Chart, error) {
	p := newPlot(opts.Title, opts.XLabel, opts.YLabel)
	p.Legend.Top, p.Legend.Left = true, true
	if opts.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = Ticks125{}
	}
	if opts.XTicks != nil {
		p.X.Tick.Marker = plot.ConstantTicks(opts.XTicks)
	}
	drawn := 0
	for i, s := range series {
		pts := make(plotter.XYs, 0, len(s.X))
		for j := range min(len(s.X), len(s.Y)) {
			if showable(s.X[j], s.Y[j], false, opts.LogY) {
				pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = colorOf(i)
		l.Width = vg.Points(1.5)
		if s.Dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		if s.Marks {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.Color = l.Color
			sc.Radius = vg.Points(2.5)
			p.Add(sc)
			p.Legend.Add(s.Name, l, sc)
		} else {
			p.Legend.Add(s.Name, l)
		}
		drawn++
	}
	if drawn == 0 {
		noData(p)
		return &Chart{plot: p, empty: true}, nil
	}
	// Headroom above the data for the legend, which sits at the top.
	if opts.LogY {
		spanLog(&p.Y)
		p.Y.Max *= 3
	} else {
		p.Y.Min = math.Min(p.Y.Min, 0)
		p.Y.Max += (p.Y.Max - p.Y.Min) * 0.35
	}
	return &Chart{plot: p}, nil
}
