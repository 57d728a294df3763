package executor

import (
	"context"
	"fmt"
	"runtime/debug"
	"sort"
	"sync"
)

// Task is a registered task as an executor's worker sees it: found by
// name (Lookup), run on arguments in the wire codec, JSON.
type Task interface {
	// Name returns the name it was registered under.
	Name() string
	// Decode decodes args, a JSON array of arguments (Batch.EncodeArgs),
	// for a worker to run them. A value that does not decode fails the
	// whole array with a Permanent error.
	Decode(args []byte) (Decoded, error)
}

// Decoded is a batch's arguments decoded in a worker: elements to run in
// order (through Policy.Run, inside a Worker's context) and whose results
// go back as JSON.
type Decoded interface {
	Len() int
	Runner
	// AppendResults appends the kept results of elements [from, to) to
	// buf as one JSON array. If one of them cannot be encoded it returns
	// a Permanent error; call it again per element to find which.
	AppendResults(buf []byte, from, to int) ([]byte, error)
}

// Initializer is a registered per-worker initializer (crew.RegisterInit):
// Build makes the value a Worker keeps for its tasks.
type Initializer interface {
	Build(ctx context.Context) (any, error)
}

var registry = struct {
	sync.RWMutex
	tasks map[string]Task
	inits map[string]Initializer
}{tasks: map[string]Task{}, inits: map[string]Initializer{}}

// Register adds t to the registry under t.Name(). crew.Register calls it;
// a name registered twice panics, as it is a programming error.
func Register(t Task) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.tasks[t.Name()]; dup {
		panic(fmt.Sprintf("crew: task %q registered twice", t.Name()))
	}
	registry.tasks[t.Name()] = t
}

// RegisterInit adds the initializer in under name. crew.RegisterInit
// calls it; a name registered twice panics.
func RegisterInit(name string, in Initializer) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.inits[name]; dup {
		panic(fmt.Sprintf("crew: initializer %q registered twice", name))
	}
	registry.inits[name] = in
}

// Lookup returns the task registered as name in this process, or an error
// wrapping ErrUnknownTask.
func Lookup(name string) (Task, error) {
	registry.RLock()
	t, ok := registry.tasks[name]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q is not registered in this program", ErrUnknownTask, name)
	}
	return t, nil
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

func lookupInit(name string) (Initializer, error) {
	registry.RLock()
	in, ok := registry.inits[name]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: initializer %q is not registered in this program", ErrUnknownTask, name)
	}
	return in, nil
}

// Invoke calls fn(ctx, arg), turning a panic into a *PanicError with the
// stack: the panic capture every task call goes through, whichever
// executor runs it.
func Invoke[A, R any](ctx context.Context, fn func(context.Context, A) (R, error), arg A) (res R, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx, arg)
}
