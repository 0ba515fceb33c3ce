package main

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ringcast/ringcast/transport"
)

// The library names Config fields; serve names its flags.
func TestServeConfigErrorsNameFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		kind error
	}{
		{[]string{"--max-event-bytes", "10"}, "--max-event-bytes 10 must be at least 64", transport.ErrOutOfRange},
		{[]string{"--slow-client", "block"}, `--slow-client "block" needs --engine chan`, transport.ErrConflict},
		{[]string{"--max-header-bytes", "3072", "--max-url-bytes", "4096"}, "--max-url-bytes 4096 exceeds --max-header-bytes (3072)", transport.ErrConflict},
		{[]string{"--publish-token", "a b"}, "--publish-token must use letters", transport.ErrMalformed},
	} {
		err := runServe(append(tc.args, "--addr", "127.0.0.1:0", "--admin-addr", ""), io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, tc.kind) || strings.Contains(err.Error(), "transport:") {
			t.Errorf("%q: %v; want %q...", tc.args, err, tc.want)
		}
	}
}

// Every Config field that serve sets has its flag name.
func TestConfigFlagsCoverConfig(t *testing.T) {
	typ := reflect.TypeFor[transport.Config]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if _, ok := configFlags[name]; !ok && name != "Epoch" && name != "Logger" {
			t.Errorf("Config.%s has no flag in configFlags", name)
		}
	}
	for field := range configFlags {
		if _, ok := typ.FieldByName(field); !ok {
			t.Errorf("configFlags names %s, not a Config field", field)
		}
	}
}
