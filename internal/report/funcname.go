package report

import "strings"

const module = "github.com/ringcast/ringcast/"

// ShortFunc shortens a profile's function name for a table: ringcast's own
// packages keep their path within the module (bench/internal/..., ring.),
// other packages keep only their last element (fasthttp.(*Server).serveConn),
// and the generic shape of bench's event struct reads "Event".
func ShortFunc(name string) string {
	name = strings.TrimPrefix(name, module)
	name = strings.ReplaceAll(name, "go.shape.struct { Seq uint64; Stamp int64; Data []uint8 }", "Event")
	if i := strings.LastIndexByte(name, '/'); i >= 0 && !strings.HasPrefix(name, "bench") && !strings.HasPrefix(name, "ring") {
		name = name[i+1:]
	}
	return name
}
