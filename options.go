package crew

import (
	"fmt"
	"time"

	"github.com/crewrun/crew/executor"
)

// Option configures an executor. Every executor (Goroutines, proc.New,
// cluster.New) takes these; an invalid value makes the constructor fail
// (Goroutines panics, having no error to return).
type Option = executor.Option

// Workers sets how many tasks run at once. The default, runtime.NumCPU(),
// suits CPU-bound work; IO-bound work (downloads) wants many more.
func Workers(n int) Option {
	return func(c *executor.Config) error {
		if n < 1 {
			return fmt.Errorf("%w: Workers(%d): need at least 1", ErrInvalidOption, n)
		}
		c.Workers = n
		return nil
	}
}

// Timeout limits each attempt of a task to d. At the deadline the task's
// context is cancelled and an error it returns wraps ErrTimeout. A task
// that ignores its context still fails with ErrTimeout shortly after the
// deadline (a grace of 100 ms plus a tenth of d, at most 2 s): package
// proc kills its worker process; the goroutine and cluster executors,
// which cannot kill a goroutine, abandon it — it runs on until it
// returns, its result dropped, counted in Progress.Abandoned meanwhile.
func Timeout(d time.Duration) Option {
	return func(c *executor.Config) error {
		if d < 0 {
			return fmt.Errorf("%w: Timeout(%v): negative", ErrInvalidOption, d)
		}
		c.Timeout = d
		return nil
	}
}

// Retries reruns a failed task up to n more times, waiting backoff before
// the first retry and doubling (with jitter) after that. Errors marked
// with Permanent, unknown tasks, and failures after the submitter's
// context ended are not retried.
func Retries(n int, backoff time.Duration) Option {
	return func(c *executor.Config) error {
		if n < 0 || backoff < 0 {
			return fmt.Errorf("%w: Retries(%d, %v): negative", ErrInvalidOption, n, backoff)
		}
		c.Retries, c.RetryBackoff = n, backoff
		return nil
	}
}

// Initialize makes every worker build the given initializers' values when
// it starts, before its first task (Python: Pool(initializer=...)).
// Without it, Init.From builds a worker's value on first use.
func Initialize(inits ...Initializer) Option {
	return func(c *executor.Config) error {
		for _, in := range inits {
			c.Inits = append(c.Inits, in.InitName())
		}
		return nil
	}
}

// OnProgress calls fn after every change in the executor's counts, the
// same way on every executor: each task (each input of Map) is counted
// Submitted once; then Running while it runs and Done or Failed when it
// ends — or, if it never started (cancelled while queued), straight to
// Failed. Calls are serialised, so fn sees counts in order; fn runs on
// the executor's goroutines, at times with the executor's locks held, so
// it must be quick (update a progress bar, not draw one) and must not
// submit to the executor.
func OnProgress(fn func(Progress)) Option {
	return func(c *executor.Config) error {
		if fn != nil {
			c.Progress = executor.NewTracker(func(p executor.Progress) { fn(Progress(p)) })
		}
		return nil
	}
}

// Progress is a snapshot of an executor's task counts (see OnProgress).
type Progress struct {
	Submitted int64 // accepted by the executor
	Running   int64 // started, not finished
	Done      int64 // finished without error
	Failed    int64 // finished with an error
	// Abandoned counts tasks that timed out (and were reported Failed with
	// ErrTimeout) while ignoring their context, and still run: Go cannot
	// stop a goroutine. Each leaves the count when it returns.
	Abandoned int64
}

// InFlight returns the tasks submitted and not yet finished.
func (p Progress) InFlight() int64 { return p.Submitted - p.Done - p.Failed }
