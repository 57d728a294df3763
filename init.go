package crew

import (
	"context"
	"fmt"

	"github.com/crewrun/crew/executor"
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

func (d *initDef[S]) Build(ctx context.Context) (any, error) { return d.fn(ctx) }

// Initializer names a registered Init; every Init[S] is one. See
// Initialize.
type Initializer interface {
	InitName() string
}

// RegisterInit registers fn as the per-worker initializer called name and
// returns the Init that tasks use to get the worker's value. Register it
// at package level, like tasks. If the value implements io.Closer it is
// closed when its worker stops.
func RegisterInit[S any](name string, fn func(ctx context.Context) (S, error)) Init[S] {
	if name == "" || fn == nil {
		panic("crew: RegisterInit needs a name and a function")
	}
	d := &initDef[S]{name: name, fn: fn}
	executor.RegisterInit(name, d)
	return Init[S]{def: d}
}

// InitName returns the name the initializer was registered under.
func (i Init[S]) InitName() string { return i.def.name }

// From returns the calling worker's value, building it on first use if
// the executor was not told to build it eagerly with Initialize. ctx must
// be the context a task received. The value is built with the worker's
// own context, not ctx: it outlives the task that happened to need it
// first. An initializer may call another's From. Outside a worker (a
// direct Task.Call, say) there is no worker to keep the value, and From
// builds a fresh one on every call.
func (i Init[S]) From(ctx context.Context) (S, error) {
	w := executor.WorkerFrom(ctx)
	if w == nil {
		return i.def.fn(ctx)
	}
	v, err := w.Value(i.def.name)
	if err != nil {
		var zero S
		return zero, err
	}
	s, ok := v.(S)
	if !ok {
		var zero S
		return zero, fmt.Errorf("crew: initializer %q built a %T, not the %T its Init expects", i.def.name, v, zero)
	}
	return s, nil
}
