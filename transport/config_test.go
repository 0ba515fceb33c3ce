package transport

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A rejected Config is a *ConfigError that names the field (never a flag)
// and is errors.Is its kind.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
		kind  error
	}{
		{Config{Engine: "disk"}, "Engine", ErrUnknown},
		{Config{Engine: EngineChan, SlowClient: "later"}, "SlowClient", ErrUnknown},
		{Config{SlowClient: Block}, "SlowClient", ErrConflict},
		{Config{Capacity: 1}, "Capacity", ErrOutOfRange},
		{Config{KeepAlive: time.Microsecond}, "KeepAlive", ErrOutOfRange},
		{Config{MaxEventBytes: 10}, "MaxEventBytes", ErrOutOfRange},
		{Config{MaxEventBytes: 1 << 20, MaxBodyBytes: 1 << 10}, "MaxBodyBytes", ErrConflict},
		{Config{Epoch: "UPPER"}, "Epoch", ErrMalformed},
		{Config{PublishToken: "a b"}, "PublishToken", ErrMalformed},
	} {
		_, err := New(tc.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, tc.kind) || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v; want a *ConfigError for %s, %v", tc.cfg, err, tc.field, tc.kind)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.field+" ") || strings.Contains(msg, "--") {
			t.Errorf("%+v: %q; want the field named, no flag", tc.cfg, msg)
		}
		if tc.cfg.PublishToken != "" && strings.Contains(err.Error(), tc.cfg.PublishToken) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}

func TestValidationErrorIs(t *testing.T) {
	ts := startServer(t, Config{})
	_, err := ts.Publish(Event{Topic: "a"}, Event{Topic: "a", Event: EventLagged})
	var ve *ValidationError
	if !errors.Is(err, ErrInvalidEvent) || !errors.As(err, &ve) || ve.Index != 1 || ve.Field != "Event" {
		t.Fatalf("Publish with a reserved name: %#v", err)
	}
	if _, err := ts.Publish(); !errors.Is(err, ErrNoEvents) {
		t.Fatalf("Publish of nothing: %v", err)
	}
}
