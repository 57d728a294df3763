package crew

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Goroutines returns an executor that runs tasks on a fixed set of worker
// goroutines in this process, passing arguments and results as Go values
// (nothing is encoded). Timeout cancels the task's context; Go cannot kill
// a goroutine, so a task that ignores its context runs on — use package
// proc when a runaway task must be killed.
//
// Options are validated here; an invalid one makes every call fail with an
// error wrapping ErrInvalidOption.
func Goroutines(opts ...Option) Executor {
	cfg, err := NewConfig(opts...)
	if err != nil {
		return invalidExecutor{err}
	}
	e := &goroutines{cfg: cfg, queue: make(chan Call, max(1024, 4*cfg.Workers))}
	e.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go e.work()
	}
	return e
}

type goroutines struct {
	cfg    Config
	queue  chan Call
	mu     sync.RWMutex // read-held while sending on queue; write-held to close it
	closed bool
	wg     sync.WaitGroup
}

func (e *goroutines) Exec(c Call) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	ctx := c.Context()
	e.cfg.Progress.Submitted() // before a worker can finish it
	select {
	case e.queue <- c:
	default:
		select {
		case e.queue <- c:
		case <-ctx.Done():
			e.cfg.Progress.Withdrawn()
			return ctx.Err()
		}
	}
	return nil
}

// Close stops accepting calls, lets the workers finish every call already
// queued, and waits for them.
func (e *goroutines) Close() error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.queue)
	}
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}

func (e *goroutines) work() {
	defer e.wg.Done()
	var w *Worker
	defer func() {
		if w != nil {
			w.Close()
		}
	}()
	for c := range e.queue {
		if w == nil && len(e.cfg.Inits) > 0 {
			var err error
			if w, err = NewWorker(c.Context(), e.cfg.Inits); err != nil {
				e.cfg.Progress.Finished(false, err)
				c.Complete(err) // the next call tries the initializers again
				continue
			}
		}
		run(e.cfg, w, c)
	}
}

// run runs c in this goroutine under cfg's timeout and retries.
func run(cfg Config, w *Worker, c Call) {
	ctx := c.Context()
	if err := ctx.Err(); err != nil {
		cfg.Progress.Finished(false, err)
		c.Complete(err)
		return
	}
	if w != nil {
		ctx = w.Context(ctx)
	}
	cfg.Progress.Started()
	for attempt := 0; ; attempt++ {
		err := invokeAttempt(ctx, cfg.Timeout, c)
		if err == nil || attempt >= cfg.Retries || IsPermanent(err) || ctx.Err() != nil || !sleep(ctx, cfg.RetryDelay(attempt+1)) {
			cfg.Progress.Finished(true, err)
			c.Complete(err)
			return
		}
	}
}

func invokeAttempt(ctx context.Context, timeout time.Duration, c Call) error {
	if timeout <= 0 {
		return c.Invoke(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := c.Invoke(actx)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("%w after %v: %w", ErrTimeout, timeout, err)
	}
	return err
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

// invalidExecutor fails every call with the option error it was made with.
type invalidExecutor struct{ err error }

func (e invalidExecutor) Exec(Call) error { return e.err }
func (e invalidExecutor) Close() error    { return nil }
