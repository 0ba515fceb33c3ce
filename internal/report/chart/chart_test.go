package chart

import (
	"math"
	"strings"
	"testing"
)

// Values a log axis cannot show are left out, and a chart left with none
// says "no data" instead of failing or panicking (gonum's log scale panics
// on an axis without a positive range).
func TestNothingToShowIsDrawable(t *testing.T) {
	nan := math.NaN()
	charts := map[string]func() (*Chart, error){
		"lines, log y": func() (*Chart, error) {
			return Lines(LineOptions{Title: "t", LogY: true}, []Series{{Name: "zero", X: []float64{1, 2}, Y: []float64{0, -1}}, {Name: "empty"}})
		},
		"log-log": func() (*Chart, error) {
			return LogLog("t", "x", "y", []Intervals{{Name: "zero", Points: []Point{{X: 16, Y: 0}, {X: 0, Y: 5}, {X: 4, Y: nan}}}, {Name: "none"}}, func(float64) string { return "" })
		},
		"dots": func() (*Chart, error) {
			return Dots("t", "y", []string{"a", "b"}, []Intervals{{Name: "zero", Points: []Point{{X: 0, Y: 0}}}}, func(float64) string { return "" })
		},
	}
	for name, draw := range charts {
		c, err := draw()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !c.Empty() {
			t.Errorf("%s: not marked empty", name)
		}
		svg, err := c.SVG(0, 0)
		if err != nil || !strings.Contains(string(svg), "no data") {
			t.Errorf("%s: %v, or the chart does not say it has no data", name, err)
		}
	}
	c, err := Bars(BarOptions{Title: "t"}, []string{"a", "b"}, []BarGroup{{Name: "g", Values: []float64{0, nan}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SVG(0, 0); err != nil {
		t.Fatal(err)
	}
}

// A series with some points a log axis can show draws them and skips the
// rest.
func TestPartialSeriesDraws(t *testing.T) {
	c, err := LogLog("t", "x", "y", []Intervals{
		{Name: "some", Points: []Point{{X: 1, Y: 0}, {X: 2, Y: 10, Lo: 0, Hi: 12}, {X: 4, Y: 20, Lo: 18, Hi: 22}}},
		{Name: "none", Points: []Point{{X: 1, Y: 0}}},
	}, func(v float64) string { return "v" })
	if err != nil {
		t.Fatal(err)
	}
	svg, err := c.SVG(0, 0)
	if err != nil || c.Empty() || !strings.Contains(string(svg), "some") || strings.Contains(string(svg), "no data") {
		t.Fatalf("%v; empty %v", err, c.Empty())
	}
}

// One value on a log axis (a run with one reader count) is drawable.
func TestSingleValueOnLogAxes(t *testing.T) {
	c, err := LogLog("t", "x", "y", []Intervals{{Name: "one", Points: []Point{{X: 16, Y: 4e6, Lo: 4e6, Hi: 4e6}}}}, func(float64) string { return "v" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SVG(0, 0); err != nil {
		t.Fatal(err)
	}
	d, err := Dots("t", "y", []string{"a"}, []Intervals{{Name: "one", Points: []Point{{X: 0, Y: 1e-3}}}}, func(float64) string { return "v" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SVG(0, 0); err != nil {
		t.Fatal(err)
	}
}
