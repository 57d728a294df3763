package crew

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sort"
	"sync"
)

// Task is a registered, named function. The name is how an executor in
// another process or on another machine finds the same function: both sides
// run the same binary (or, for foreign workers, agree on the name and the
// JSON shapes of A and R).
type Task[A, R any] struct {
	def *taskDef[A, R]
}

type taskDef[A, R any] struct {
	name string
	fn   func(context.Context, A) (R, error)
}

// Name returns the name the task was registered under.
func (t Task[A, R]) Name() string { return t.def.name }

// Call runs the task directly in the calling goroutine, with panics
// recovered as for any executor. It is what an executor's worker does.
func (t Task[A, R]) Call(ctx context.Context, arg A) (R, error) {
	return t.def.invoke(ctx, arg)
}

func (d *taskDef[A, R]) invoke(ctx context.Context, arg A) (res R, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return d.fn(ctx, arg)
}

// runEncoded decodes arg, runs the task and encodes its result: the worker
// side of an executor that crosses process boundaries.
func (d *taskDef[A, R]) runEncoded(ctx context.Context, arg []byte) ([]byte, error) {
	var a A
	if err := json.Unmarshal(arg, &a); err != nil {
		return nil, Permanent(fmt.Errorf("crew: task %q: decode argument: %w", d.name, err))
	}
	r, err := d.invoke(ctx, a)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(r)
	if err != nil {
		return nil, Permanent(fmt.Errorf("crew: task %q: encode result: %w", d.name, err))
	}
	return out, nil
}

type encodedRunner interface {
	runEncoded(ctx context.Context, arg []byte) ([]byte, error)
	decodeBatch(args []byte) (EncodedBatch, error)
}

var registry = struct {
	sync.RWMutex
	tasks map[string]encodedRunner
	inits map[string]initRunner
}{tasks: map[string]encodedRunner{}, inits: map[string]initRunner{}}

// Register makes fn callable by name on every executor and returns the Task
// to submit. Register it at package level (var square = crew.Register(...))
// so that worker processes, which run the same binary, know it too.
// Registering a name twice panics, as it is a programming error.
//
// Arguments and results cross process and machine boundaries as JSON
// (encoding/json), so A and R must round-trip through it; the goroutine
// executor passes them as Go values and never encodes.
func Register[A, R any](name string, fn func(ctx context.Context, arg A) (R, error)) Task[A, R] {
	if name == "" || fn == nil {
		panic("crew: Register needs a name and a function")
	}
	d := &taskDef[A, R]{name: name, fn: fn}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.tasks[name]; dup {
		panic(fmt.Sprintf("crew: task %q registered twice", name))
	}
	registry.tasks[name] = d
	return Task[A, R]{def: d}
}

// RunEncoded runs the registered task name with a JSON-encoded argument and
// returns its JSON-encoded result. Executors that move calls between
// processes use it on the worker side; ctx should come from a Worker so
// that per-worker state (Init) is found.
func RunEncoded(ctx context.Context, name string, arg []byte) ([]byte, error) {
	registry.RLock()
	r, ok := registry.tasks[name]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTask, name)
	}
	return r.runEncoded(ctx, arg)
}

// Tasks returns the names of all registered tasks, sorted.
func Tasks() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.tasks))
	for n := range registry.tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
