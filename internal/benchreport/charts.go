package benchreport

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// useSans draws the charts in Liberation Sans rather than gonum's default
// serif; saveSVG adds the generic fallbacks a viewer without it needs.
var useSans = sync.OnceFunc(func() {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
})

func newPlot() *plot.Plot {
	useSans()
	return plot.New()
}

// point is one measured value with its confidence interval.
type point struct {
	X          float64
	Y, Lo, Hi  float64
	Present    bool
	Annotation string
}

// series is one strategy's line, or one group of bars or dots.
type series struct {
	Name   string
	Points []point
}

// palette: eight distinguishable colours (Okabe-Ito, plus black), so each
// strategy keeps its colour in every chart.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{0, 158, 115, 255},   // bluish green
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{204, 121, 167, 255}, // reddish purple
	color.RGBA{120, 94, 60, 255},   // brown
	color.RGBA{0, 0, 0, 255},       // black
}

func colorOf(i int) color.Color { return palette[i%len(palette)] }

// siTicks labels a log axis with SI prefixes (10k, 1M) or durations.
type siTicks struct{ format func(float64) string }

func (t siTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = t.format(ts[i].Value)
		}
	}
	return ts
}

// lineChart plots series against a log2 x axis (reader counts) and a log y axis.
func lineChart(title, xLabel, yLabel string, ss []series, yFormat func(float64) string) (*chart, error) {
	p := newPlot()
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = powersOfTwo{}
	p.Y.Tick.Marker = siTicks{yFormat}
	p.Add(plotter.NewGrid())
	any := false
	for i, s := range ss {
		xys, bars, err := logPoints(s, 0, true, colorOf(i))
		if err != nil {
			return nil, err
		}
		if xys == nil {
			continue
		}
		any = true
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
	}
	if !any {
		return nil, fmt.Errorf("report: chart %q has no data", title)
	}
	return &chart{p, legend}, nil
}

// logPoints are a series' points, shifted right by offset, that log axes
// can show (positive), and their confidence intervals as error bars; nil
// when there are none.
func logPoints(s series, offset float64, logX bool, c color.Color) (plotter.XYs, *plotter.YErrorBars, error) {
	var xys plotter.XYs
	var errs plotter.YErrors
	for _, pt := range s.Points {
		if !pt.Present || pt.Y <= 0 || logX && pt.X <= 0 {
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

// dotChart plots, for each category (strategy) on a nominal x axis, one dot
// per series (consumer mix) with its interval, on a log y axis: bars cannot
// start at zero on a log axis, and these values span five decades.
func dotChart(title, yLabel string, categories []string, ss []series, yFormat func(float64) string) (*chart, error) {
	p := newPlot()
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	p.Title.Text = title
	p.Y.Label.Text = yLabel
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = siTicks{yFormat}
	p.NominalX(categories...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.Add(plotter.NewGrid())
	width := 0.6
	any := false
	for i, s := range ss {
		offset := -width/2 + width*float64(i)/float64(max(len(ss)-1, 1))
		xys, bars, err := logPoints(s, offset, false, colorOf(i))
		if err != nil {
			return nil, err
		}
		if xys == nil {
			continue
		}
		any = true
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colorOf(i), Radius: vg.Points(3.5), Shape: plotutil.Shape(i)}
		p.Add(sc, bars)
		legend.Add(s.Name, sc)
	}
	if !any {
		return nil, fmt.Errorf("report: chart %q has no data", title)
	}
	return &chart{p, legend}, nil
}

// barChart draws grouped bars per category, linear y from 0.
func barChart(title, yLabel string, categories []string, ss []series, yMax float64) (*chart, error) {
	p := newPlot()
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	p.Title.Text = title
	p.Y.Label.Text = yLabel
	p.NominalX(categories...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	p.Add(plotter.NewGrid())
	w := vg.Points(min(60/float64(max(len(ss), 1)), 14))
	for i, s := range ss {
		vals := make(plotter.Values, len(categories))
		for _, pt := range s.Points {
			if pt.Present && int(pt.X) >= 0 && int(pt.X) < len(vals) {
				vals[int(pt.X)] = pt.Y
			}
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		b.Color = colorOf(i)
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(len(ss)-1)/2)
		p.Add(b)
		legend.Add(s.Name, b)
	}
	p.Y.Min, p.Y.Max = 0, yMax
	return &chart{p, legend}, nil
}

// powersOfTwo ticks a log2 axis of reader counts at 1, 2, 4, ...
type powersOfTwo struct{}

func (powersOfTwo) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for v := 1.0; v <= hi*1.0001; v *= 2 {
		if v >= lo*0.9999 {
			ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprint(v)})
		}
	}
	return ts
}

// chart is a plot with its legend, which is drawn beside the plot rather
// than over the data.
type chart struct {
	plot   *plot.Plot
	legend plot.Legend
}

// legendWidth is the strip on the right that holds the legend.
const legendWidth = 1.9 * vg.Inch

// saveSVG writes c as an SVG of the given size.
func saveSVG(c *chart, path string, w, h vg.Length) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	canvas := vgsvg.New(w, h)
	dc := draw.New(canvas)
	c.plot.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	lc := draw.Crop(dc, w-legendWidth+vg.Points(8), 0, 0, -vg.Points(24))
	c.legend.Draw(lc)
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return err
	}
	svg := bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	return os.WriteFile(path, svg, 0o644)
}
