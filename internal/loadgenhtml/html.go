// Package loadgenhtml writes a load generator result (package loadgen) as a
// single self-contained HTML page with charts: kept apart from loadgen so
// that the library links no chart code.
package loadgenhtml

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/ringcast/ringcast/internal/report"
	"github.com/ringcast/ringcast/internal/report/chart"
	"github.com/ringcast/ringcast/loadgen"
)

// Write writes r as a single self-contained page: the summary tables and
// the charts as inline SVG; no script, stylesheet or font is fetched from
// anywhere.
func Write(w io.Writer, r *loadgen.Result) error {
	charts := []struct {
		name string
		draw func(*loadgen.Result) (*chart.Chart, error)
	}{
		{"throughput", throughput},
		{"latency over time", latencyOverTime},
		{"latency distribution", latencyDistribution},
	}
	var svgs []template.HTML
	if r.Idle == nil {
		for _, c := range charts {
			ch, err := c.draw(r)
			if err != nil {
				return fmt.Errorf("%s chart: %v", c.name, err)
			}
			svg, err := ch.SVG(0, 0)
			if err != nil {
				return fmt.Errorf("%s chart: %v", c.name, err)
			}
			svgs = append(svgs, template.HTML(chart.InlineSVG(svg))) // produced by vgsvg, not user input
		}
	}
	var text bytes.Buffer
	r.WriteText(&text)
	return reportTemplate.Execute(w, struct {
		R      *loadgen.Result
		Charts []template.HTML
		Text   string
		When   string
	}{r, svgs, text.String(), r.Started.Format(time.RFC3339)})
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":    report.Ms,
	"rate":  report.Rate,
	"bytes": report.Bytes,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>ringcast loadgen: {{.R.Scenario}} against {{.R.Target}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.bad{color:#b00;font-weight:bold}.good{color:#070}
pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:90%}
svg{max-width:100%;height:auto;display:block;margin:1em 0}
</style></head><body>
<h1>ringcast loadgen — {{.R.Scenario}}</h1>
<p>{{.R.Target}} · started {{.When}} · measured {{.R.Measured}} · {{.R.Config.Subscribers}} subscribers{{if not .R.Idle}} ·
{{rate .R.Config.Rate}} events/s of {{.R.Config.Payload}} B over {{.R.Config.Topics}} topic(s) · {{.R.Config.Publisher}}{{end}}</p>
{{if .R.Idle}}
<table><tr><th class="l">connections held</th><th>server RSS before</th><th>after</th><th>per connection</th></tr>
<tr><td class="l">{{.R.Idle.ConnectionsHeld}}</td><td>{{bytes .R.Idle.RSSBefore}}</td><td>{{bytes .R.Idle.RSSAfter}}</td><td>{{printf "%.0f" .R.Idle.BytesPerConn}} B</td></tr></table>
{{else}}
<table>
<tr><th class="l">class</th><th>subscribers</th><th>expected</th><th>delivered</th><th>lost</th><th>silent gaps</th><th>lagged</th><th>resets</th><th>reconnects</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>
{{range .R.Classes}}<tr><td class="l">{{.Name}}</td><td>{{.Subscribers}}</td><td>{{.Expected}}</td><td>{{.Delivered}}</td>
<td class="{{if .Lost}}bad{{else}}good{{end}}">{{.Lost}}</td><td class="{{if .SilentGapEvents}}bad{{end}}">{{.SilentGapEvents}}</td>
<td>{{.Lagged}}</td><td>{{.Resets}}</td><td>{{.Reconnects}}</td>
<td>{{ms .Latency.P50Ms}}</td><td>{{ms .Latency.P90Ms}}</td><td>{{ms .Latency.P99Ms}}</td><td>{{ms .Latency.P999Ms}}</td><td>{{ms .Latency.MaxMs}}</td></tr>
{{end}}</table>
<p>Deliveries: {{rate .R.DeliveriesPerSec}}/s. Latency is measured from each event's <em>intended</em> send time
(open-loop schedule), so a stall anywhere shows up in it.</p>
{{range .Charts}}{{.}}{{end}}
{{end}}
{{range .R.Profiles}}
<h2>Server {{.Kind}} profile</h2>
{{if .Error}}<p class="bad">{{.Error}}</p>{{else}}
<p>{{.SampleType}} ({{.Unit}}), total {{.Total}}{{if .Saved}} · raw profile: {{.Saved}}{{end}}</p>
<table><tr><th>flat%</th><th>cum%</th><th class="l">top by flat</th><th>flat%</th><th>cum%</th><th class="l">top by cumulative</th></tr>
{{$cum := .TopCum}}{{range $i, $f := .TopFlat}}<tr><td>{{printf "%.1f" $f.FlatPct}}</td><td>{{printf "%.1f" $f.CumPct}}</td><td class="l">{{$f.Function}}</td>
{{with index $cum $i}}<td>{{printf "%.1f" .FlatPct}}</td><td>{{printf "%.1f" .CumPct}}</td><td class="l">{{.Function}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{end}}
<h2>Full report</h2>
<pre>{{.Text}}</pre>
</body></html>
`))
