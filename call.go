package crew

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
)

// Executor runs calls of registered tasks. Goroutines is the in-process
// one; package proc runs calls in worker processes and package cluster on
// NATS JetStream workers. Users hand an Executor to Submit and Map and
// Close it when done; only executor implementations call Exec.
type Executor interface {
	// Exec takes ownership of c and arranges for c.Complete to be called
	// exactly once, from any goroutine. It may block for back-pressure, but
	// must give up when c.Context() ends. If Exec returns an error (ErrClosed
	// after Close, or the context's error) it did not take c, and the caller
	// completes c itself.
	Exec(c Call) error
	// Close stops accepting calls, waits for the calls it took to complete,
	// and releases the executor's workers.
	Close() error
}

// Call is one invocation of a registered task, as an executor sees it. An
// in-process executor runs it with Invoke; one that crosses process
// boundaries sends Task and EncodeArg to a worker (which calls RunEncoded)
// and feeds the reply to DecodeResult. Either way it ends with Complete.
type Call interface {
	// Task returns the registered task name.
	Task() string
	// Context returns the submitter's context; when it ends, the call's
	// result no longer matters and a running task should be cancelled.
	Context() context.Context
	// Invoke runs the task in this goroutine, panics recovered, and keeps
	// the result for Complete. It may be called again for a retry.
	Invoke(ctx context.Context) error
	// EncodeArg returns the argument in the wire codec (JSON).
	EncodeArg() ([]byte, error)
	// DecodeResult keeps a result received in the wire codec.
	DecodeResult(data []byte) error
	// Complete finishes the call: with err nil, the kept result is
	// delivered; otherwise err is.
	Complete(err error)
}

// Future is the pending result of a Submit (Python: concurrent.futures.Future).
type Future[R any] struct {
	res  R
	err  error
	done atomic.Bool
	mu   sync.Mutex
	ch   chan struct{} // made only if someone waits before completion
}

func (f *Future[R]) finish() {
	f.mu.Lock()
	f.done.Store(true)
	if f.ch != nil {
		close(f.ch)
	}
	f.mu.Unlock()
}

// Done returns a channel closed when the result is ready, for select.
func (f *Future[R]) Done() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ch == nil {
		f.ch = make(chan struct{})
		if f.done.Load() {
			close(f.ch)
		}
	}
	return f.ch
}

// Wait blocks until the task finished or ctx ended, and returns the task's
// result. Ending ctx stops the wait, not the task: the task is cancelled
// by the context given to Submit.
func (f *Future[R]) Wait(ctx context.Context) (R, error) {
	if !f.done.Load() {
		select {
		case <-f.Done():
		case <-ctx.Done():
			var zero R
			return zero, ctx.Err()
		}
	}
	return f.res, f.err
}

// call is the Call behind every Submit and every Map element. A single
// allocation holds the argument, the result and the Future.
type call[A, R any] struct {
	Future[R]
	ctx   context.Context
	def   *taskDef[A, R]
	arg   A
	index int
	sink  *mapSink[A, R] // nil for Submit
}

func (c *call[A, R]) Task() string             { return c.def.name }
func (c *call[A, R]) Context() context.Context { return c.ctx }

func (c *call[A, R]) Invoke(ctx context.Context) error {
	r, err := c.def.invoke(ctx, c.arg)
	if err == nil {
		c.res = r
	}
	return err
}

func (c *call[A, R]) EncodeArg() ([]byte, error) {
	b, err := json.Marshal(c.arg)
	if err != nil {
		return nil, Permanent(fmt.Errorf("crew: task %q: encode argument: %w", c.def.name, err))
	}
	return b, nil
}

func (c *call[A, R]) DecodeResult(data []byte) error {
	var r R
	if err := json.Unmarshal(data, &r); err != nil {
		return Permanent(fmt.Errorf("crew: task %q: decode result: %w", c.def.name, err))
	}
	c.res = r
	return nil
}

func (c *call[A, R]) Complete(err error) {
	c.err = err
	if err != nil {
		var zero R
		c.res = zero
	}
	if c.sink != nil {
		c.sink.results <- c
		return
	}
	c.finish()
}

// Submit starts one call of t with arg on ex and returns its Future
// (Python: executor.submit). Cancelling ctx cancels the task. Submit may
// block while the executor's queue is full.
func Submit[A, R any](ctx context.Context, ex Executor, t Task[A, R], arg A) *Future[R] {
	c := &call[A, R]{ctx: ctx, def: t.def, arg: arg}
	if err := ex.Exec(c); err != nil {
		c.Complete(err)
	}
	return &c.Future
}
