package crew

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/crewrun/crew/executor"
)

// Task is a registered, named function. The name is how an executor in
// another process or on another machine finds the same function: both
// sides run the same binary (or, for workers in other languages, agree on
// the name and the JSON shapes of A and R).
type Task[A, R any] struct {
	def *taskDef[A, R]
}

type taskDef[A, R any] struct {
	name string
	fn   func(context.Context, A) (R, error)
}

// Name returns the name the task was registered under.
func (t Task[A, R]) Name() string { return t.def.name }

// Call runs the task directly in the calling goroutine, a panic recovered
// as a *PanicError, as any executor runs it (without Timeout or Retries).
func (t Task[A, R]) Call(ctx context.Context, arg A) (R, error) {
	return executor.Invoke(ctx, t.def.fn, arg)
}

// Register makes fn callable by name on every executor and returns the
// Task to submit. Register it at package level (var square =
// crew.Register(...)) so that worker processes, which run the same
// binary, know it too. Registering a name twice panics.
//
// Arguments and results cross processes and machines as JSON
// (encoding/json), so A and R must survive the trip: Register panics,
// naming the type and the field, if they hold what JSON would silently
// drop or change — an unexported struct field, an interface, a channel —
// unless the type encodes itself (json.Marshaler and json.Unmarshaler, or
// their encoding.Text counterparts, as time.Time does). The goroutine
// executor passes values as they are, but a program must get the same
// answers on every executor, so the rule holds for all.
func Register[A, R any](name string, fn func(ctx context.Context, arg A) (R, error)) Task[A, R] {
	if name == "" || fn == nil {
		panic("crew: Register needs a name and a function")
	}
	for _, c := range []struct {
		what string
		t    reflect.Type
	}{{"argument", reflect.TypeFor[A]()}, {"result", reflect.TypeFor[R]()}} {
		if why := uncrossable(c.t, c.t.String(), map[reflect.Type]bool{}); why != "" {
			panic(fmt.Sprintf("crew: Register(%q): the %s type %s cannot cross to a worker process or machine intact: %s", name, c.what, c.t, why))
		}
	}
	d := &taskDef[A, R]{name: name, fn: fn}
	executor.Register(d)
	return Task[A, R]{def: d}
}

func (d *taskDef[A, R]) Name() string { return d.name }

// Decode decodes a worker's arguments (executor.Task).
func (d *taskDef[A, R]) Decode(args []byte) (executor.Decoded, error) {
	b := &decoded[A, R]{def: d}
	a, err := decodeArray(args, b.oneArg[:0:1]) // in place for one argument: a Submit's
	if err != nil {
		return nil, executor.Permanent(fmt.Errorf("crew: task %q: decode arguments: %w", d.name, err))
	}
	b.args = a
	if len(a) == 1 {
		b.res = b.oneRes[:]
	} else {
		b.res = make([]R, len(a))
	}
	return b, nil
}

// decoded is a batch's arguments in a worker, with room for the results;
// one allocation for a batch of one.
type decoded[A, R any] struct {
	def    *taskDef[A, R]
	args   []A
	res    []R
	oneArg [1]A
	oneRes [1]R
}

func (b *decoded[A, R]) Len() int { return len(b.args) }

func (b *decoded[A, R]) Run(ctx context.Context, i int) error {
	r, err := executor.Invoke(ctx, b.def.fn, b.args[i])
	b.res[i] = r
	return err
}

func (b *decoded[A, R]) Try(ctx context.Context, i int) (func(), error) {
	r, err := executor.Invoke(ctx, b.def.fn, b.args[i])
	if err != nil {
		return nil, err
	}
	return func() { b.res[i] = r }, nil
}

func (b *decoded[A, R]) AppendResults(buf []byte, from, to int) ([]byte, error) {
	out, err := appendArray(buf, b.res[from:to])
	if err != nil {
		return buf, executor.Permanent(fmt.Errorf("crew: task %q: encode result: %w", b.def.name, err))
	}
	return out, nil
}

var (
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[interface{ MarshalText() ([]byte, error) }]()
	textUnmarshaler = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
)

// encodesItself reports whether t has its own JSON or text encoding, in
// both directions.
func encodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return (t.Implements(jsonMarshaler) || p.Implements(jsonMarshaler)) && p.Implements(jsonUnmarshaler) ||
		(t.Implements(textMarshaler) || p.Implements(textMarshaler)) && p.Implements(textUnmarshaler)
}

// uncrossable returns why values of t (reached by path) would not come
// out of a JSON round trip as they went in, or "" if they would.
func uncrossable(t reflect.Type, path string, seen map[reflect.Type]bool) string {
	if seen[t] || encodesItself(t) {
		return ""
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return ""
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return uncrossable(t.Elem(), path+" element", seen)
	case reflect.Map:
		switch k := t.Key(); {
		case k.Kind() == reflect.String, k.Kind() >= reflect.Int && k.Kind() <= reflect.Uintptr, encodesItself(k):
		default:
			return fmt.Sprintf("%s is a map keyed by %s, which JSON cannot use as an object key", path, k)
		}
		return uncrossable(t.Elem(), path+" value", seen)
	case reflect.Interface:
		return fmt.Sprintf("%s is an interface (%s): JSON cannot tell which concrete type to decode on the far side; use a concrete type", path, t)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Tag.Get("json") == "-" {
				continue // left out on purpose
			}
			if !f.IsExported() {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if f.Anonymous && ft.Kind() == reflect.Struct {
					// JSON promotes the exported fields of an embedded struct.
					if why := uncrossable(ft, path+"."+f.Name, seen); why != "" {
						return why
					}
					continue
				}
				return fmt.Sprintf("%s has the unexported field %s, which JSON drops: export it (with a json tag to keep the name on the wire) or give %s MarshalJSON and UnmarshalJSON methods", path, f.Name, t)
			}
			if why := uncrossable(f.Type, path+"."+f.Name, seen); why != "" {
				return why
			}
		}
		return ""
	}
	return fmt.Sprintf("%s is a %s, which JSON cannot encode", path, t.Kind())
}
