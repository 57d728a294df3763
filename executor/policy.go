package executor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Policy is the attempt policy of crew.Timeout and crew.Retries, written
// once for every executor: the goroutine executor runs each element
// through it, and so do the workers of package proc and package cluster.
type Policy struct {
	// Timeout limits each attempt: its context is cancelled at the
	// deadline, and an error it then returns wraps ErrTimeout.
	Timeout time.Duration
	// Retries is how many more attempts follow a failure, after Backoff,
	// doubled per retry up to a minute, jittered. Errors marked
	// Permanent, ErrUnknownTask, and failures after the submitter's
	// context ended are not retried.
	Retries int
	Backoff time.Duration
	// Grace, when positive, is how long past the deadline an attempt may
	// run on, ignoring its cancelled context, before it is abandoned: it
	// then fails with ErrTimeout at once and its goroutine is left to
	// return by itself, its value dropped (Progress counts it as
	// Abandoned until then). Go cannot stop a goroutine; an executor that
	// can stop the task (package proc kills the worker process) leaves
	// Grace zero and waits.
	Grace time.Duration
	// Progress, if set, counts abandoned attempts.
	Progress *Tracker
	// BeforeRetry, if set, is called before the wait that precedes
	// attempt number attempt (2 for the first retry).
	BeforeRetry func(attempt int, delay time.Duration)
}

// Grace returns the grace period of a timeout: how long an executor lets
// an overdue task run past its deadline before it gives up on it (the
// goroutine and cluster executors abandon it, package proc kills its
// worker): 100 ms plus a tenth of the timeout, at most 2 s.
func Grace(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return 0
	}
	return min(100*time.Millisecond+timeout/10, 2*time.Second)
}

// Run runs element i of r in this goroutine under the policy and returns
// the error of its last attempt, nil on success.
func (p Policy) Run(ctx context.Context, r Runner, i int) error {
	return p.RunFrom(ctx, r, i, 1)
}

// RunFrom is Run for an element that already had attempt-1 attempts
// elsewhere (package proc runs an element again after its worker died).
func (p Policy) RunFrom(ctx context.Context, r Runner, i, attempt int) error {
	if p.Timeout <= 0 && p.Retries == 0 {
		return r.Run(ctx, i)
	}
	for ; ; attempt++ {
		err := p.attempt(ctx, r, i)
		if !p.Retryable(ctx, attempt, err) {
			return err
		}
		d := p.RetryDelay(attempt)
		if p.BeforeRetry != nil {
			p.BeforeRetry(attempt+1, d)
		}
		if !sleep(ctx, d) {
			return err
		}
	}
}

// Retryable reports whether an element whose attempt number attempt
// failed with err gets another attempt.
func (p Policy) Retryable(ctx context.Context, attempt int, err error) bool {
	return err != nil && attempt <= p.Retries && !IsPermanent(err) && !errors.Is(err, ErrUnknownTask) && ctx.Err() == nil
}

// RetryDelay returns how long to wait before retry number n (1 for the
// first): Backoff doubled per retry, capped at a minute, with jitter
// drawn from [d/2, d] so that many failing tasks do not retry in
// lockstep.
func (p Policy) RetryDelay(n int) time.Duration {
	if p.Backoff <= 0 || n < 1 {
		return 0
	}
	d := p.Backoff
	for k := 1; k < n && d < time.Minute; k++ {
		d *= 2
	}
	d = min(d, time.Minute)
	return d/2 + rand.N(d/2+1)
}

func (p Policy) attempt(ctx context.Context, r Runner, i int) error {
	if p.Timeout <= 0 {
		return r.Run(ctx, i)
	}
	actx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	var err error
	if p.Grace > 0 {
		err = p.abandonable(ctx, actx, r, i)
	} else {
		err = r.Run(actx, i)
	}
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("%w after %v: %w", ErrTimeout, p.Timeout, err)
	}
	return err
}

// abandoned is the shared state of an attempt that runs in a goroutine of
// its own.
type abandoned struct {
	mu   sync.Mutex
	gone bool // the caller gave up on it
	done chan tried
}

type tried struct {
	keep func()
	err  error
}

// abandonable runs the attempt in a goroutine of its own and waits for it
// until the deadline plus Grace, or Grace after ctx ends.
func (p Policy) abandonable(ctx, actx context.Context, r Runner, i int) error {
	a := &abandoned{done: make(chan tried, 1)}
	go func() {
		keep, err := r.Try(actx, i)
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.gone {
			p.Progress.abandoned(-1)
			return
		}
		a.done <- tried{keep, err}
	}()
	t := time.NewTimer(p.Timeout + p.Grace)
	defer t.Stop()
	cancelled := ctx.Done()
	for {
		select {
		case res := <-a.done:
			if res.err == nil {
				res.keep()
			}
			return res.err
		case <-cancelled:
			cancelled = nil
			t.Reset(p.Grace)
			continue
		case <-t.C:
		}
		a.mu.Lock()
		select {
		case res := <-a.done: // it returned just now
			a.mu.Unlock()
			if res.err == nil {
				res.keep()
			}
			return res.err
		default:
		}
		a.gone = true
		p.Progress.abandoned(1) // under a.mu: before the goroutine can count it out
		a.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%w after %v: the task ignored its cancelled context for %v more and was abandoned (it runs on until it returns)", ErrTimeout, p.Timeout, p.Grace)
	}
}

// sleep waits d or until ctx ends, and reports whether it waited it out.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
