package bench_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/ringcast/ringcast/bench"
)

// TestMain prints the suite's constants as benchfmt file configuration
// ("key: value" lines) before any benchmark result, so a results file says
// what it was measured with.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		for _, kv := range bench.FileConfig() {
			fmt.Printf("%s: %s\n", kv[0], kv[1])
		}
	}
	os.Exit(m.Run())
}
