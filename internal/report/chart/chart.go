// Package chart draws ringcast's report charts as self-contained SVG with
// gonum/plot: line charts over time or load, log-log lines with confidence
// intervals, dots per category and grouped bars. Every chart shares one
// palette, one typeface (Liberation Sans, with generic fallbacks) and one
// rule for log axes: a value a log axis cannot show (zero, negative, NaN)
// is left out, and a chart left with nothing to show says "no data" rather
// than failing, so that a partial result set still gets a partial report.
//
// Only the report tools import it: gonum/plot, with its fonts, is most of a
// binary's size.
package chart

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// palette: eight distinguishable colours (Okabe-Ito, plus black), so that a
// series keeps its colour across charts that list series in the same order.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // bluish green
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky blue
	color.RGBA{204, 121, 167, 255}, // reddish purple
	color.RGBA{120, 94, 60, 255},   // brown
	color.RGBA{0, 0, 0, 255},       // black
}

func colorOf(i int) color.Color { return palette[i%len(palette)] }

// useSans draws the charts in Liberation Sans rather than gonum's default
// serif; render adds the generic fallbacks a viewer without it needs.
var useSans = sync.OnceFunc(func() {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
})

func newPlot(title, xLabel, yLabel string) *plot.Plot {
	useSans()
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	return p
}

// Chart is a drawn plot, ready to be rendered.
type Chart struct {
	plot *plot.Plot
	// beside, when set, is a legend drawn in a strip right of the plot
	// rather than over the data (charts with many series).
	beside *plot.Legend
	empty  bool
}

// Empty reports whether the chart had nothing to show (its title then ends
// in "(no data)"): a report can leave it out.
func (c *Chart) Empty() bool { return c.empty }

// legendWidth is the strip on the right that holds a legend drawn beside.
const legendWidth = 1.9 * vg.Inch

// Default size of SVG and Save: 16 × 8 cm.
const (
	DefaultWidth  = 16 * vg.Centimeter
	DefaultHeight = 8 * vg.Centimeter
)

// SVG renders c as an SVG document of the given size (0: the default).
func (c *Chart) SVG(w, h vg.Length) ([]byte, error) {
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	canvas := vgsvg.New(w, h)
	dc := draw.New(canvas)
	if c.beside != nil {
		c.plot.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
		c.beside.Draw(draw.Crop(dc, w-legendWidth+vg.Points(8), 0, 0, -vg.Points(24)))
	} else {
		// A little room on the right, where the last tick label would be cut.
		c.plot.Draw(draw.Crop(dc, 0, -vg.Points(20), 0, 0))
	}
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, err
	}
	return bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")), nil
}

// Save writes c as an SVG file of the given size, creating its directory.
func (c *Chart) Save(path string, w, h vg.Length) error {
	svg, err := c.SVG(w, h)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, svg, 0o644)
}

// InlineSVG drops the XML declaration so that the SVG can sit inside HTML.
func InlineSVG(svg []byte) []byte {
	if bytes.HasPrefix(svg, []byte("<?xml")) {
		if i := bytes.Index(svg, []byte("?>")); i >= 0 {
			svg = bytes.TrimLeft(svg[i+2:], "\n")
		}
	}
	return svg
}

// showable reports whether (x, y) can be drawn on the axes: finite, and
// positive on a log axis.
func showable(x, y float64, logX, logY bool) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
		return false
	}
	return !(logX && x <= 0) && !(logY && y <= 0)
}

// spanLog widens a log axis whose data hold a single value (one reader
// count, one measurement) to a factor of two either side: gonum widens an
// empty span by ±1, which reaches zero on a log scale and panics.
func spanLog(a *plot.Axis) {
	if a.Min > 0 && a.Max <= a.Min*(1+1e-9) {
		a.Min, a.Max = a.Min/2, a.Max*2
	}
}

// noData turns an empty plot into a drawable one that says so: gonum's log
// scale panics on an axis with no positive range.
func noData(p *plot.Plot) {
	p.Add(plotter.NewFunction(func(float64) float64 { return 1 }))
	p.Title.Text += " (no data)"
	p.X.Scale, p.X.Tick.Marker = plot.LinearScale{}, plot.DefaultTicks{}
	p.Y.Scale, p.Y.Tick.Marker = plot.LinearScale{}, plot.DefaultTicks{}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 2
}

// Ticks125 marks a log axis at 1, 2 and 5 times the powers of ten in range,
// so that an axis spanning less than a decade still has labels.
type Ticks125 struct{}

// Ticks implements plot.Ticker.
func (Ticks125) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	mark := func(mults []float64) []plot.Tick {
		var ticks []plot.Tick
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			base := math.Pow(10, e)
			for _, m := range mults {
				v := m * base
				if v >= lo*0.999 && v <= hi*1.001 {
					ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 4, 64)})
				}
			}
		}
		return ticks
	}
	if t := mark([]float64{1, 2, 5}); len(t) >= 3 {
		return t
	}
	if t := mark([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9}); len(t) >= 2 {
		return t
	}
	// Within one step: linear ticks always label.
	return plot.DefaultTicks{}.Ticks(lo, hi)
}

// SITicks labels a log axis with its own formatter (SI prefixes such as 10k
// and 1M, or durations).
type SITicks struct{ Format func(float64) string }

// Ticks implements plot.Ticker.
func (t SITicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	ts := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = t.Format(ts[i].Value)
		}
	}
	return ts
}

// PowersOfTwo ticks a log2 axis of counts at 1, 2, 4, ...
type PowersOfTwo struct{}

// Ticks implements plot.Ticker.
func (PowersOfTwo) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for v := 1.0; v <= hi*1.0001; v *= 2 {
		if v >= lo*0.9999 {
			ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprint(v)})
		}
	}
	return ts
}
