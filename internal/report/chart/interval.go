package chart

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Point is one measured value with its confidence interval [Lo, Hi].
type Point struct {
	X, Y, Lo, Hi float64
}

// Intervals is one named set of measured points: a line of LogLog, a
// series of dots of Dots.
type Intervals struct {
	Name   string
	Points []Point
}

// LogLog plots series against log x (counts, ticked at powers of two) and
// log y labelled by yFormat, each point with its interval as an error bar,
// the legend beside the plot.
func LogLog(title, xLabel, yLabel string, ss []Intervals, yFormat func(float64) string) (*Chart, error) {
	p := newPlot(title, xLabel, yLabel)
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = PowersOfTwo{}
	p.Y.Tick.Marker = SITicks{yFormat}
	drawn := 0
	for i, s := range ss {
		xys, bars, err := errorBars(s, 0, true, colorOf(i))
		if err != nil || xys == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color = colorOf(i)
		line.Dashes = plotutil.Dashes(i / len(palette))
		points.Shape = plotutil.Shape(i)
		points.Color = colorOf(i)
		p.Add(line, points, bars)
		legend.Add(s.Name, line, points)
		drawn++
	}
	if drawn == 0 {
		noData(p)
	} else {
		spanLog(&p.X)
		spanLog(&p.Y)
	}
	return &Chart{plot: p, beside: &legend, empty: drawn == 0}, nil
}

// Dots plots, for each category on a nominal x axis, one dot per series
// with its interval, on a log y axis labelled by yFormat: bars cannot start
// at zero on a log axis, and such values can span five decades.
func Dots(title, yLabel string, categories []string, ss []Intervals, yFormat func(float64) string) (*Chart, error) {
	p := newPlot(title, "", yLabel)
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = SITicks{yFormat}
	slantCategories(p, categories)
	width := 0.6
	drawn := 0
	for i, s := range ss {
		offset := -width/2 + width*float64(i)/float64(max(len(ss)-1, 1))
		xys, bars, err := errorBars(s, offset, false, colorOf(i))
		if err != nil || xys == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colorOf(i), Radius: vg.Points(3.5), Shape: plotutil.Shape(i)}
		p.Add(sc, bars)
		legend.Add(s.Name, sc)
		drawn++
	}
	if drawn == 0 {
		noData(p)
	} else {
		spanLog(&p.Y)
	}
	return &Chart{plot: p, beside: &legend, empty: drawn == 0}, nil
}

func slantCategories(p *plot.Plot, categories []string) {
	p.NominalX(categories...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
}

// errorBars are a series' points that log axes can show, shifted right by
// offset, and their intervals as error bars; nil when there are none.
func errorBars(s Intervals, offset float64, logX bool, c color.Color) (plotter.XYs, *plotter.YErrorBars, error) {
	var xys plotter.XYs
	var errs plotter.YErrors
	for _, pt := range s.Points {
		if !showable(pt.X, pt.Y, logX, true) {
			continue
		}
		xys = append(xys, plotter.XY{X: pt.X + offset, Y: pt.Y})
		lo, hi := clampPositive(pt.Lo, pt.Y), clampPositive(pt.Hi, pt.Y)
		errs = append(errs, struct{ Low, High float64 }{pt.Y - lo, hi - pt.Y})
	}
	if len(xys) == 0 {
		return nil, nil, nil
	}
	bars, err := plotter.NewYErrorBars(struct {
		plotter.XYs
		plotter.YErrors
	}{xys, errs})
	if err != nil {
		return nil, nil, err
	}
	bars.Color = c
	return xys, bars, nil
}

// clampPositive keeps an interval end usable on a log axis.
func clampPositive(v, center float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) || v <= 0 {
		return center
	}
	return v
}
