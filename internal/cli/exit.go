package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/crewrun/crew/crawl"
)

// Exit statuses shared by crew's subcommands (crew run uses GNU parallel's
// instead; see exitCode).
const (
	exitOK          = 0
	exitFailed      = 1 // some tasks failed
	exitUsage       = 2 // bad flags, arguments or input
	exitNetwork     = 4 // crew crawl: a start URL's host did not answer (wget's code)
	exitInterrupted = 130
)

// usageError marks an error caused by how crew was invoked.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitStatus lets a domain error carry a status chosen by its command
// (crew run's count of failed jobs, for example).
type exitStatus struct {
	code int
	err  error
}

func (e exitStatus) Error() string { return e.err.Error() }
func (e exitStatus) Unwrap() error { return e.err }

// exitCode maps an error to the process exit status. It is the only place
// that does.
func exitCode(ctx context.Context, err error) int {
	var es exitStatus
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &es):
		return es.code
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, crawl.ErrUnreachable):
		return exitNetwork
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return exitInterrupted
	default:
		return exitFailed
	}
}

// reportError prints err (if any) and returns its exit code.
func reportError(ctx context.Context, w io.Writer, err error) int {
	code := exitCode(ctx, err)
	if err != nil && !errors.Is(err, errQuiet) {
		msg := err.Error()
		if code == exitInterrupted && err == context.Canceled { // bare: nothing to add to the status
			msg = "interrupted" // not the "context canceled" of Go's plumbing
		}
		fmt.Fprintf(w, "crew: %s\n", msg)
	}
	return code
}

// errQuiet wraps failures already reported in detail (per-task lines); only
// the exit code is left to give.
var errQuiet = errors.New("failures reported above")
