package transport

import (
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// The cost of one histogram update, taken once per write: VictoriaMetrics'
// vmrange histogram (what the server used before) against the Prometheus
// histogram with the server's duration buckets, at values spread over them.
func BenchmarkHistogramUpdate(b *testing.B) {
	values := []float64{3e-6, 4e-5, 7e-4, 0.002, 0.03, 0.4}
	b.Run("vmrange", func(b *testing.B) {
		h := metrics.NewSet().NewHistogram("h")
		for i := 0; b.Loop(); i++ {
			h.Update(values[i%len(values)])
		}
	})
	b.Run("prometheus-le", func(b *testing.B) {
		h := metrics.NewSet().NewPrometheusHistogramExt("h", durationBuckets)
		for i := 0; b.Loop(); i++ {
			h.Update(values[i%len(values)])
		}
	})
}
