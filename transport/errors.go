package transport

// The package's errors. Each is typed or a sentinel, for errors.Is and
// errors.As; a message names what a caller of this package can change (a
// Config field, an Event field), never a command-line flag: the CLI maps
// fields to its flags.

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrClosed is returned by Publish once Shutdown has begun.
	ErrClosed = errors.New("transport: server is shutting down")
	// ErrNoEvents is returned by Publish called with no event.
	ErrNoEvents = errors.New("transport: nothing to publish")
	// ErrInvalidEvent is what every *ValidationError is.
	ErrInvalidEvent = errors.New("transport: invalid event")
	// ErrEventTooLarge is what a *ValidationError is for an event whose
	// frame on the wire exceeds Config.MaxEventBytes (HTTP: 413).
	ErrEventTooLarge = errors.New("transport: event too large")
	// ErrInvalidConfig is what every *ConfigError is.
	ErrInvalidConfig = errors.New("transport: invalid config")
)

// The kinds of ConfigError.
var (
	ErrOutOfRange = errors.New("out of range")           // a number or duration outside its bounds
	ErrUnknown    = errors.New("unknown value")          // an engine or policy that does not exist
	ErrConflict   = errors.New("conflicts with a field") // fine alone, not with another field
	ErrMalformed  = errors.New("malformed value")        // a string of the wrong shape
)

// ConfigError says which Config field New rejected and why. It is
// ErrInvalidConfig and its Kind for errors.Is.
type ConfigError struct {
	Field  string // the Config field, e.g. "MaxEventBytes"
	Kind   error  // ErrOutOfRange, ErrUnknown, ErrConflict or ErrMalformed
	Reason string // the value and what is wrong with it; other fields are named as in Config
}

func configError(field string, kind error, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

func (e *ConfigError) Error() string { return "transport: " + e.Field + " " + e.Reason }

func (e *ConfigError) Unwrap() []error { return []error{ErrInvalidConfig, e.Kind} }

// ValidationError says what is wrong with the event at Index (0-based) of a
// batch, and what to fix. A batch with one invalid event is rejected whole.
// It is ErrInvalidEvent for errors.Is, and ErrEventTooLarge too when the
// event is larger than MaxEventBytes.
type ValidationError struct {
	Index  int
	Field  string // the Event field: "Topic", "Event", "Key" or "Data"
	Reason string // what is wrong with it, e.g. "is not valid UTF-8 at byte 2"
	kind   error  // ErrEventTooLarge, or nil
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("event %d: %s", e.Index+1, e.detail())
}

func (e *ValidationError) Unwrap() []error {
	if e.kind != nil {
		return []error{ErrInvalidEvent, e.kind}
	}
	return []error{ErrInvalidEvent}
}

// detail is the message without the event's index, naming the field as the
// JSON of POST /publish does.
func (e *ValidationError) detail() string {
	return `"` + strings.ToLower(e.Field) + `" ` + e.Reason
}

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
