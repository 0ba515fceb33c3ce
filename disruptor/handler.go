package disruptor

// Handlers and their errors.
//
// Invariants:
//   H1. A handler is called from one goroutine only (its processor's), so it
//       may keep state without locks; one Handler value must not be added
//       to a disruptor twice.
//   H2. OnEvent is called for every sequence exactly once, in order, unless
//       the disruptor is halted; a failing call (error or panic) does not
//       change that: the error handler is told, the entry counts as
//       processed, and downstream handlers see it.
//   H3. Handlers of one group read the same entry at the same time; a handler
//       may write fields of the entry that only it and handlers downstream
//       of it read.

import (
	"fmt"
	"log/slog"
)

// A Handler processes entries. OnEvent is called with a pointer into the
// ring: the entry may be read and (see the package doc) written during the
// call, but must not be retained after it returns, because the producers
// reuse it. endOfBatch is true for the last entry that was available when
// the batch began — the moment to flush buffered work.
//
// A Handler may also implement BatchStarter and Lifecycle.
type Handler[T any] interface {
	OnEvent(entry *T, seq int64, endOfBatch bool) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc[T any] func(entry *T, seq int64, endOfBatch bool) error

// OnEvent calls f.
func (f HandlerFunc[T]) OnEvent(entry *T, seq int64, endOfBatch bool) error {
	return f(entry, seq, endOfBatch)
}

// BatchStarter is implemented by handlers that want to know the size of a
// batch before its first OnEvent.
type BatchStarter interface {
	OnBatchStart(batchSize int64)
}

// Lifecycle is implemented by handlers that want to be told when their
// goroutine starts and stops. OnStart runs before the first OnEvent,
// OnShutdown after the last one. Panics in either go to the error handler.
type Lifecycle interface {
	OnStart()
	OnShutdown()
}

// HandlerError describes a handler call that returned an error or panicked.
type HandlerError struct {
	// Handler is the Handler value that failed.
	Handler any
	// Stage is the handler's depth in the graph (0 for handlers added by
	// HandleEventsWith), Index its position within its group.
	Stage, Index int
	// Sequence is the entry being processed, or -1 for OnStart, OnShutdown
	// and OnBatchStart.
	Sequence int64
	// Entry is a *T pointing at the entry; valid only during the call to the
	// error handler.
	Entry any
	// Err is the returned error; nil when the handler panicked.
	Err error
	// Panic is the recovered value, and Stack the goroutine's stack at the
	// panic; both nil when the handler returned an error.
	Panic any
	Stack []byte
}

func (e *HandlerError) Error() string {
	what := "handler"
	if e.Sequence < 0 {
		what = "handler lifecycle call"
	}
	if e.Panic != nil {
		return fmt.Sprintf("disruptor: %s %T (stage %d, #%d) panicked at sequence %d: %v",
			what, e.Handler, e.Stage, e.Index, e.Sequence, e.Panic)
	}
	return fmt.Sprintf("disruptor: %s %T (stage %d, #%d) failed at sequence %d: %v",
		what, e.Handler, e.Stage, e.Index, e.Sequence, e.Err)
}

// Unwrap returns the handler's error.
func (e *HandlerError) Unwrap() error { return e.Err }

// logHandlerError is the default error handler.
func logHandlerError(e *HandlerError) {
	attrs := []any{
		"handler", fmt.Sprintf("%T", e.Handler),
		"stage", e.Stage, "index", e.Index, "sequence", e.Sequence,
	}
	if e.Panic != nil {
		attrs = append(attrs, "panic", fmt.Sprint(e.Panic), "stack", string(e.Stack))
	} else {
		attrs = append(attrs, "err", e.Err)
	}
	slog.Error("disruptor: handler failed; continuing with the next entry", attrs...)
}
