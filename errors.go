package crew

import "github.com/crewrun/crew/executor"

// Sentinel errors. Test for them with errors.Is: every executor wraps
// them, including errors that crossed a process or machine boundary.
var (
	// ErrTimeout reports that a task overran the per-attempt Timeout.
	ErrTimeout = executor.ErrTimeout
	// ErrPanic reports that a task panicked (the error is a *PanicError).
	ErrPanic = executor.ErrPanic
	// ErrWorkerDied reports that the worker process or machine running a
	// task went away before reporting a result.
	ErrWorkerDied = executor.ErrWorkerDied
	// ErrClosed reports a Submit or Map to an executor after its Close.
	ErrClosed = executor.ErrClosed
	// ErrUnknownTask reports a task name that is not registered in the
	// process that should run it.
	ErrUnknownTask = executor.ErrUnknownTask
	// ErrInvalidOption reports an option with a value out of range.
	ErrInvalidOption = executor.ErrInvalidOption
)

// PanicError is the error a task's panic becomes, on every executor: get
// it with errors.As. Value is the value passed to panic (its text, for a
// panic in another process) and Stack the stack where it happened (the
// remote stack or Python traceback, for a panic in another process).
// Error() is one line, "crew: task panicked: <value>"; it wraps ErrPanic.
type PanicError = executor.PanicError

// Permanent marks err as not worth retrying: under Retries, a task that
// returns Permanent(err) fails at once with err. Permanent is transparent
// to errors.Is and errors.As.
func Permanent(err error) error { return executor.Permanent(err) }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { return executor.IsPermanent(err) }
