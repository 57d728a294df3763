package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Worker holds one worker's per-worker values (crew.Init). An executor
// makes one per worker goroutine, process or slot (NewWorker), runs that
// worker's tasks with contexts from Context, and closes it when the
// worker stops.
type Worker struct {
	ctx   context.Context // the worker's lifetime; its values are built with it
	mu    sync.Mutex
	vals  map[string]any
	order []string // creation order, closed in reverse
}

type workerKey struct{}

// NewWorker makes a Worker and builds the named initializers' values at
// once, in order, as Python's Pool does when a worker starts
// (crew.Initialize). ctx is the worker's lifetime: every value, built now
// or later by Value, is built with it, so it should end when the worker
// does, not with one task.
func NewWorker(ctx context.Context, inits []string) (*Worker, error) {
	w := &Worker{ctx: ctx, vals: map[string]any{}}
	for _, name := range inits {
		if _, err := w.Value(name); err != nil {
			w.Close()
			return nil, err
		}
	}
	return w, nil
}

// WorkerFrom returns the Worker whose Context ctx came from, or nil.
func WorkerFrom(ctx context.Context) *Worker {
	w, _ := ctx.Value(workerKey{}).(*Worker)
	return w
}

// Context returns ctx carrying w, so that crew.Init.From finds w's
// values.
func (w *Worker) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, workerKey{}, w)
}

// Value returns w's value of the initializer registered as name, building
// it on first use with w's lifetime context.
func (w *Worker) Value(name string) (any, error) {
	w.mu.Lock()
	v, ok := w.vals[name]
	w.mu.Unlock()
	if ok {
		return v, nil
	}
	in, err := lookupInit(name)
	if err != nil {
		return nil, err
	}
	// Built without holding mu: an initializer may use another's value.
	v, err = in.Build(w.Context(w.ctx))
	if err != nil {
		return nil, fmt.Errorf("crew: initializer %q: %w", name, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if first, ok := w.vals[name]; ok {
		// Tasks of this worker built it at the same time: keep the first.
		if c, ok := v.(io.Closer); ok {
			c.Close()
		}
		return first, nil
	}
	w.vals[name] = v
	w.order = append(w.order, name)
	return v, nil
}

// Close closes the worker's values that implement io.Closer, newest
// first.
func (w *Worker) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for i := len(w.order) - 1; i >= 0; i-- {
		if c, ok := w.vals[w.order[i]].(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	w.vals, w.order = map[string]any{}, nil
	return errors.Join(errs...)
}
