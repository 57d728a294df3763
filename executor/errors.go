package executor

import (
	"errors"
	"fmt"
	"strings"
)

// The sentinel errors; package crew exports the same values. Executors
// wrap them, and RemoteError carries them across processes.
var (
	ErrTimeout       = errors.New("crew: task timed out")
	ErrPanic         = errors.New("crew: task panicked")
	ErrWorkerDied    = errors.New("crew: worker died")
	ErrClosed        = errors.New("crew: executor closed")
	ErrUnknownTask   = errors.New("crew: unknown task")
	ErrInvalidOption = errors.New("crew: invalid option")
)

// PanicError is what a task's panic becomes (crew.PanicError is the same
// type). Error is one line; the stack is in Stack. It wraps ErrPanic.
type PanicError struct {
	// Value is the value passed to panic; for a panic in another process,
	// its text.
	Value any
	// Stack is the stack of the goroutine that panicked (for a panic in
	// another process, that process's stack or traceback).
	Stack []byte
}

func (e *PanicError) Error() string {
	return "crew: task panicked: " + oneLine(fmt.Sprint(e.Value))
}

// Unwrap makes errors.Is(err, ErrPanic) true.
func (e *PanicError) Unwrap() error { return ErrPanic }

// oneLine joins the lines of s, so that an error stays one log line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
}

// permanentError stops retries.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (crew.Permanent).
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

// RemoteError is a task error in its wire form, as executors send it
// between processes and machines (docs/protocol.md). Its Kind keeps
// errors.Is working on the far side; a panic's Value and Stack rebuild a
// *PanicError there.
type RemoteError struct {
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message"`
	// Value and Stack: for KindPanic, the panic value's text and the
	// stack (or traceback) where it happened.
	Value string `json:"value,omitempty"`
	Stack string `json:"stack,omitempty"`
}

func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns the sentinel for the error's Kind, if any; for a panic,
// the *PanicError it stands for.
func (e *RemoteError) Unwrap() error {
	switch e.Kind {
	case KindPanic:
		return e.panicError()
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

func (e *RemoteError) panicError() *PanicError {
	v := e.Value
	if v == "" { // a worker that sends no value: the message is all there is
		v = strings.TrimPrefix(e.Message, "crew: task panicked: ")
	}
	return &PanicError{Value: v, Stack: []byte(e.Stack)}
}

// ToRemote converts err to its wire form, or nil for a nil err.
func ToRemote(err error) *RemoteError {
	if err == nil {
		return nil
	}
	var re *RemoteError
	// A RemoteError passes through unchanged, unless Permanent wrapped it
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
	out := &RemoteError{Kind: kind, Message: err.Error()}
	var pe *PanicError
	if kind == KindPanic && errors.As(err, &pe) {
		out.Value, out.Stack = fmt.Sprint(pe.Value), string(pe.Stack)
	}
	return out
}

// Err returns the error a RemoteError stands for: nil for nil, a
// Permanent error for KindPermanent, and for a panic the *PanicError itself
// when nothing was added to its message.
func (e *RemoteError) Err() error {
	if e == nil {
		return nil
	}
	switch e.Kind {
	case KindPermanent:
		return Permanent(&RemoteError{Message: e.Message})
	case KindPanic:
		if pe := e.panicError(); pe.Error() == e.Message {
			return pe
		}
	}
	return e
}
