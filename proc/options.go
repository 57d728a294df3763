package proc

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/executor"
)

type maxTasksKey struct{}
type commandKey struct{}
type stderrKey struct{}

// MaxTasksPerWorker recycles a worker process after it has run n tasks
// (Python: maxtasksperchild), for tasks that leak memory or handles.
func MaxTasksPerWorker(n int) crew.Option {
	return func(c *executor.Config) error {
		if n < 1 {
			return fmt.Errorf("%w: MaxTasksPerWorker(%d): need at least 1", crew.ErrInvalidOption, n)
		}
		return executor.Custom(maxTasksKey{}, n)(c)
	}
}

// Command starts workers with argv instead of re-executing this binary:
// a worker written in another language that speaks docs/protocol.md, for
// example. The pool sets CREW_PROC_WORKER=1 in its environment.
func Command(argv ...string) crew.Option {
	return func(c *executor.Config) error {
		if len(argv) == 0 {
			return fmt.Errorf("%w: Command(): empty", crew.ErrInvalidOption)
		}
		return executor.Custom(commandKey{}, slices.Clone(argv))(c)
	}
}

// Stderr sends the workers' standard error (and output), each line
// prefixed with "[worker N] ", to w instead of the parent's stderr. The
// pool makes one Write at a time to w.
func Stderr(w io.Writer) crew.Option { return executor.Custom(stderrKey{}, w) }

// handshakeTimeout bounds the wait for a new worker's hello frame: a
// program that does not call ServeIfWorker never sends one. A variable
// for the tests.
var handshakeTimeout = 10 * time.Second
