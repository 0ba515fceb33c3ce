//go:build !unix

package cpuclock

import (
	"errors"
	"time"
)

func process() (time.Duration, error) {
	return 0, errors.New("cpuclock: process CPU time is not known on this system")
}
