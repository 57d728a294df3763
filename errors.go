package crew

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test for them with errors.Is: every executor wraps them,
// including errors that crossed a process or machine boundary.
var (
	// ErrTimeout reports that a task overran the per-task Timeout.
	ErrTimeout = errors.New("crew: task timed out")
	// ErrPanic reports that a task panicked; the error text carries the
	// panic value and the stack.
	ErrPanic = errors.New("crew: task panicked")
	// ErrWorkerDied reports that the worker process or machine running a
	// task went away before reporting a result.
	ErrWorkerDied = errors.New("crew: worker died")
	// ErrClosed reports a Submit to an executor after its Close.
	ErrClosed = errors.New("crew: executor closed")
	// ErrUnknownTask reports a call of a task name that is not registered
	// in the process that should run it.
	ErrUnknownTask = errors.New("crew: unknown task")
	// ErrInvalidOption reports an option with a value out of range.
	ErrInvalidOption = errors.New("crew: invalid option")
)

// PanicError is the error a recovered task panic becomes. It wraps ErrPanic.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack at the panic
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("crew: task panicked: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap makes errors.Is(err, ErrPanic) true.
func (e *PanicError) Unwrap() error { return ErrPanic }

// permanentError stops retries.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: under Retries, a task that
// returns Permanent(err) fails at once with err (Permanent itself is
// transparent to errors.Is and errors.As).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Error kinds of a RemoteError, one per sentinel.
const (
	KindError       = ""
	KindPanic       = "panic"
	KindTimeout     = "timeout"
	KindWorkerDied  = "worker_died"
	KindClosed      = "closed"
	KindUnknownTask = "unknown_task"
	KindPermanent   = "permanent"
)

// RemoteError is a task error in its wire form: what an executor sends
// between processes or machines. Its Kind keeps errors.Is working on the
// far side: a remote panic still matches ErrPanic.
type RemoteError struct {
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message"`
}

func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns the sentinel for the error's Kind, if any.
func (e *RemoteError) Unwrap() error {
	switch e.Kind {
	case KindPanic:
		return ErrPanic
	case KindTimeout:
		return ErrTimeout
	case KindWorkerDied:
		return ErrWorkerDied
	case KindClosed:
		return ErrClosed
	case KindUnknownTask:
		return ErrUnknownTask
	}
	return nil
}

// ToRemote converts err to its wire form, or nil for a nil err.
func ToRemote(err error) *RemoteError {
	if err == nil {
		return nil
	}
	var re *RemoteError
	// A RemoteError passed through unchanged, unless Permanent wrapped it
	// (the same message): that kind must not be lost.
	if errors.As(err, &re) && re.Message == err.Error() && (re.Kind == KindPermanent || !IsPermanent(err)) {
		return re
	}
	kind := KindError
	switch {
	case errors.Is(err, ErrPanic):
		kind = KindPanic
	case errors.Is(err, ErrTimeout):
		kind = KindTimeout
	case errors.Is(err, ErrWorkerDied):
		kind = KindWorkerDied
	case errors.Is(err, ErrClosed):
		kind = KindClosed
	case errors.Is(err, ErrUnknownTask):
		kind = KindUnknownTask
	case IsPermanent(err):
		kind = KindPermanent
	}
	return &RemoteError{Kind: kind, Message: err.Error()}
}

// Err returns the error a RemoteError stands for: nil for nil, and a
// Permanent error for KindPermanent.
func (e *RemoteError) Err() error {
	if e == nil {
		return nil
	}
	if e.Kind == KindPermanent {
		return Permanent(&RemoteError{Message: e.Message})
	}
	return e
}
