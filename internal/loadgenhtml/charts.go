package loadgen

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// LineSeries is one named line of a chart.
type LineSeries struct {
	Name   string
	X, Y   []float64
	Dashed bool
	// Points marks every data point (for sparse series such as load points).
	Points bool
}

// ChartOptions shapes a line chart.
type ChartOptions struct {
	Title, XLabel, YLabel string
	LogY                  bool
	// XTicks, when set, replaces the automatic ticks of the X axis.
	XTicks []plot.Tick
	// Width and Height default to 16 × 8 cm.
	Width, Height vg.Length
}

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

// LineChartSVG draws series as an SVG document (gonum/plot, vgsvg), without
// external fonts, scripts or styles.
func LineChartSVG(opts ChartOptions, series []LineSeries) ([]byte, error) {
	p := plot.New()
	p.Title.Text = opts.Title
	p.X.Label.Text = opts.XLabel
	p.Y.Label.Text = opts.YLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	if opts.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = ticks125{}
	}
	if opts.XTicks != nil {
		p.X.Tick.Marker = plot.ConstantTicks(opts.XTicks)
	}
	drawn := 0
	for i, s := range series {
		pts := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			y := s.Y[j]
			if math.IsNaN(y) || math.IsInf(y, 0) || math.IsNaN(s.X[j]) {
				continue
			}
			if opts.LogY && y <= 0 {
				continue
			}
			pts = append(pts, plotter.XY{X: s.X[j], Y: y})
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.5)
		if s.Dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		if s.Points {
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
		p.Add(plotter.NewFunction(func(float64) float64 { return 1 }))
		p.Title.Text += " (no data)"
		p.Y.Scale, p.Y.Tick.Marker = plot.LinearScale{}, plot.DefaultTicks{}
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 2
		opts.LogY = false
	}
	// Headroom above the data for the legend, which sits at the top.
	if opts.LogY {
		p.Y.Max *= 3
	} else {
		p.Y.Min = math.Min(p.Y.Min, 0)
		p.Y.Max += (p.Y.Max - p.Y.Min) * 0.35
	}
	return renderSVG(p, opts.Width, opts.Height)
}

// BarGroup is one named set of bars, one value per category.
type BarGroup struct {
	Name   string
	Values []float64
}

// BarChartSVG draws grouped bars over the named categories, with a dashed
// horizontal reference line at refY when refLabel is not empty (a goal).
func BarChartSVG(title, ylabel string, categories []string, groups []BarGroup, refY float64, refLabel string) ([]byte, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	w := vg.Points(40)
	if len(groups) > 1 {
		w = vg.Points(80 / float64(len(groups)))
	}
	for i, g := range groups {
		b, err := plotter.NewBarChart(plotter.Values(g.Values), w)
		if err != nil {
			return nil, err
		}
		b.Color = palette[i%len(palette)]
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(len(groups)-1)/2)
		p.Add(b)
		if len(groups) > 1 {
			p.Legend.Add(g.Name, b)
		}
	}
	if refLabel != "" {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: refY}, {X: float64(len(categories)) - 0.5, Y: refY}})
		if err != nil {
			return nil, err
		}
		l.Color = palette[1]
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(refLabel, l)
	}
	p.NominalX(categories...)
	p.X.Min, p.X.Max = -0.6, float64(len(categories))-0.4
	p.Y.Min = 0
	top := refY
	for _, g := range groups {
		for _, v := range g.Values {
			top = math.Max(top, v)
		}
	}
	if top <= 0 {
		top = 1 // nothing to show: keep the axis drawable
	}
	p.Y.Max = top * 1.25
	return renderSVG(p, 0, 0)
}

// ticks125 marks a log axis at 1, 2 and 5 times the powers of ten in range,
// so that an axis spanning less than a decade still has labels.
type ticks125 struct{}

func (ticks125) Ticks(lo, hi float64) []plot.Tick {
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

func renderSVG(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	if w == 0 {
		w = 16 * vg.Centimeter
	}
	if h == 0 {
		h = 8 * vg.Centimeter
	}
	c := vgsvg.New(w, h)
	// A little room on the right, where the last tick label would be cut.
	p.Draw(draw.Crop(draw.New(c), 0, -vg.Points(20), 0, 0))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// inlineSVG drops the XML declaration so the SVG can sit inside HTML.
func inlineSVG(svg []byte) []byte {
	if bytes.HasPrefix(svg, []byte("<?xml")) {
		if i := bytes.Index(svg, []byte("?>")); i >= 0 {
			svg = bytes.TrimLeft(svg[i+2:], "\n")
		}
	}
	return svg
}

// nines maps a percentile to its "number of nines" (90 -> 1, 99 -> 2), the
// x axis of a percentile spectrum.
func nines(percentile float64) float64 {
	q := percentile / 100
	if q >= 1 {
		return math.Inf(1)
	}
	return -math.Log10(1 - q)
}

func spectrumTicks(maxNines float64) []plot.Tick {
	ticks := []plot.Tick{{Value: 0, Label: "0%"}}
	for n := 1; float64(n) <= maxNines+0.01; n++ {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: percentLabel(n)})
	}
	return ticks
}

func percentLabel(nines int) string {
	switch nines {
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return fmt.Sprintf("99.%s%%", string(bytes.Repeat([]byte("9"), nines-2)))
}

// ThroughputChart draws published and delivered events per second over the
// run.
func (r *Result) ThroughputChart() ([]byte, error) {
	var xs, pub, del, exp []float64
	fanout := 1.0
	if r.Config.Topics > 0 && !r.Config.AllTopics {
		fanout = float64(r.Subscribers) / float64(r.Config.Topics)
	} else if r.Config.AllTopics {
		fanout = float64(r.Subscribers)
	}
	for _, p := range r.Series {
		xs = append(xs, p.AtSec)
		pub = append(pub, p.PublishedPS/1000)
		del = append(del, p.DeliveredPS/1000)
		exp = append(exp, p.PublishedPS*fanout/1000)
	}
	return LineChartSVG(ChartOptions{Title: "Throughput", XLabel: "seconds since start", YLabel: "thousand events/s"}, []LineSeries{
		{Name: "delivered/s", X: xs, Y: del},
		{Name: "published/s × subscribers per topic", X: xs, Y: exp, Dashed: true},
		{Name: "published/s", X: xs, Y: pub},
	})
}

// LatencyOverTimeChart draws the latency percentiles of the events intended in
// each interval.
func (r *Result) LatencyOverTimeChart() ([]byte, error) {
	var xs, p50, p90, p99, p999, mx []float64
	for _, p := range r.LatencySeries {
		if p.Count == 0 {
			continue
		}
		xs = append(xs, p.AtSec)
		p50 = append(p50, p.P50Ms)
		p90 = append(p90, p.P90Ms)
		p99 = append(p99, p.P99Ms)
		p999 = append(p999, p.P999Ms)
		mx = append(mx, p.MaxMs)
	}
	return LineChartSVG(ChartOptions{Title: "Latency over time (from intended send time)", XLabel: "intended send time, s", YLabel: "ms", LogY: true}, []LineSeries{
		{Name: "p50", X: xs, Y: p50}, {Name: "p90", X: xs, Y: p90}, {Name: "p99", X: xs, Y: p99},
		{Name: "p99.9", X: xs, Y: p999}, {Name: "max", X: xs, Y: mx, Dashed: true},
	})
}

// LatencyDistributionChart draws the percentile spectrum of the whole run.
func (r *Result) LatencyDistributionChart() ([]byte, error) {
	var xs, ys []float64
	maxN := 0.0
	for _, s := range r.Spectrum {
		n := nines(s.Percentile)
		if math.IsInf(n, 0) {
			continue
		}
		xs = append(xs, n)
		ys = append(ys, s.Ms)
		maxN = math.Max(maxN, n)
	}
	return LineChartSVG(ChartOptions{Title: "Latency distribution", XLabel: "percentile", YLabel: "ms", LogY: true, XTicks: spectrumTicks(maxN)},
		[]LineSeries{{Name: "latency", X: xs, Y: ys}})
}
