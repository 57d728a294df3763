package crew

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/crewrun/crew/executor"
)

// Executor runs tasks: Goroutines in this process, proc.New on worker
// processes, cluster.New on the workers of a NATS server. Hand it to
// Submit and Map, and Close it when done: Close waits for the tasks it
// took. Exec is how Submit and Map hand it work; package crew/executor
// says what an executor implements.
type Executor interface {
	Exec(b executor.Batch) error
	Close() error
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

// Wait blocks until the task finished or ctx ended, and returns the
// task's result. Ending ctx stops the wait, not the task: the task is
// cancelled by the context given to Submit.
func (f *Future[R]) Wait(ctx context.Context) (R, error) {
	if !f.done.Load() {
		select {
		case <-f.Done():
		case <-ctx.Done():
			var zero R
			return zero, ctx.Err()
		}
	}
	if f.err != nil {
		var zero R
		return zero, f.err
	}
	return f.res, nil
}

// Submit starts one call of t with arg on ex and returns its Future
// (Python: executor.submit). Cancelling ctx cancels the task. Submit may
// block while the executor's queue is full.
func Submit[A, R any](ctx context.Context, ex Executor, t Task[A, R], arg A) *Future[R] {
	s := &single[A, R]{ctx: ctx, def: t.def, arg: arg}
	if err := ex.Exec(s); err != nil {
		s.Complete(0, 1, err)
	}
	return &s.Future
}

// single is the batch of one behind a Submit: one allocation holds the
// argument, the result and the Future.
type single[A, R any] struct {
	Future[R]
	ctx context.Context
	def *taskDef[A, R]
	arg A
}

func (s *single[A, R]) Task() string             { return s.def.name }
func (s *single[A, R]) Context() context.Context { return s.ctx }
func (s *single[A, R]) Len() int                 { return 1 }

func (s *single[A, R]) Run(ctx context.Context, _ int) error {
	r, err := executor.Invoke(ctx, s.def.fn, s.arg)
	s.res = r
	return err
}

func (s *single[A, R]) Try(ctx context.Context, _ int) (func(), error) {
	r, err := executor.Invoke(ctx, s.def.fn, s.arg)
	if err != nil {
		return nil, err
	}
	return func() { s.res = r }, nil
}

func (s *single[A, R]) EncodeArgs(_, _ int) ([]byte, error) {
	return encodeArgs(s.def.name, unsafe.Slice(&s.arg, 1))
}

func (s *single[A, R]) DecodeResults(_, _ int, data []byte) (int, error) {
	return decodeResults(s.def.name, unsafe.Slice(&s.res, 1), data, func(_ int, err error) { s.err = err })
}

func (s *single[A, R]) Complete(_, _ int, err error) {
	if err != nil {
		s.err = err
	}
	s.finish()
}

// encodeArgs encodes args as one JSON array.
func encodeArgs[A any](task string, args []A) ([]byte, error) {
	b, err := appendArray(nil, args)
	if err != nil {
		return nil, executor.Permanent(fmt.Errorf("crew: task %q: encode argument: %w", task, err))
	}
	return b, nil
}
