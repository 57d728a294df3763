package crew

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Init is a registered per-worker initializer: it makes a value that each
// worker builds once and then lends to every task it runs — one HTTP
// client per worker, one database connection, a parsed model. It is the
// equivalent of Python's Pool(initializer=...) and of a thread-local
// requests.Session, and works the same on goroutine, process and cluster
// workers because it is found by name, like a Task.
type Init[S any] struct {
	def *initDef[S]
}

type initDef[S any] struct {
	name string
	fn   func(context.Context) (S, error)
}

func (d *initDef[S]) create(ctx context.Context) (any, error) { return d.fn(ctx) }

type initRunner interface {
	create(ctx context.Context) (any, error)
}

// Initializer names a registered Init; Init[S] implements it. See Initialize.
type Initializer interface {
	InitName() string
}

// RegisterInit registers fn as the per-worker initializer called name and
// returns the Init that tasks use to get the worker's value. Register it at
// package level, like tasks. If the value implements io.Closer it is
// closed when its worker stops.
func RegisterInit[S any](name string, fn func(ctx context.Context) (S, error)) Init[S] {
	if name == "" || fn == nil {
		panic("crew: RegisterInit needs a name and a function")
	}
	d := &initDef[S]{name: name, fn: fn}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.inits[name]; dup {
		panic(fmt.Sprintf("crew: initializer %q registered twice", name))
	}
	registry.inits[name] = d
	return Init[S]{def: d}
}

// InitName returns the name the initializer was registered under.
func (i Init[S]) InitName() string { return i.def.name }

// From returns the calling worker's value, building it on first use if the
// executor was not told to build it eagerly with Initialize. ctx must be
// the context a task received. The value is built with the worker's own
// context, not ctx: it outlives the task that happened to need it first.
// An initializer may call another's From. Outside a worker (a direct
// Task.Call, say) there is no worker to keep the value, and From builds a
// fresh one on every call.
func (i Init[S]) From(ctx context.Context) (S, error) {
	w, _ := ctx.Value(workerKey{}).(*Worker)
	if w == nil {
		return i.def.fn(ctx)
	}
	v, err := w.get(i.def.name, i.def)
	if err != nil {
		var zero S
		return zero, err
	}
	return v.(S), nil
}

type workerKey struct{}

// Worker holds one worker's per-worker values. Executors make one per
// worker goroutine or process (NewWorker), attach it to the contexts of the
// tasks that worker runs (Context), and Close it when the worker stops.
type Worker struct {
	ctx   context.Context // the worker's lifetime; its values are built with it
	mu    sync.Mutex
	vals  map[string]any
	order []string // creation order, closed in reverse
}

// NewWorker makes a Worker and builds the named initializers' values at
// once, in order, as Python's Pool does when a worker starts. ctx is the
// worker's lifetime: every value, built now or later by Init.From, is
// built with it (a connection made with it lives as long as the worker),
// so it should end when the worker does, not with one task.
func NewWorker(ctx context.Context, inits []string) (*Worker, error) {
	w := &Worker{ctx: ctx, vals: map[string]any{}}
	for _, name := range inits {
		registry.RLock()
		r, ok := registry.inits[name]
		registry.RUnlock()
		if !ok {
			w.Close()
			return nil, fmt.Errorf("%w: initializer %q", ErrUnknownTask, name)
		}
		if _, err := w.get(name, r); err != nil {
			w.Close()
			return nil, err
		}
	}
	return w, nil
}

func (w *Worker) get(name string, r initRunner) (any, error) {
	w.mu.Lock()
	v, ok := w.vals[name]
	w.mu.Unlock()
	if ok {
		return v, nil
	}
	// Built without holding mu: an initializer may use another's From.
	v, err := r.create(w.Context(w.ctx))
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

// Context returns ctx carrying w, so that Init.From finds w's values.
func (w *Worker) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, workerKey{}, w)
}

// Close closes the worker's values that implement io.Closer, newest first.
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
