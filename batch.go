package crew

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
)

// BatchExecutor is an Executor that can also take many calls of one task
// at once. Map hands such an executor its inputs in chunks instead of one
// Call per input, which is what makes tiny tasks cheap on executors that
// cross a process boundary: one frame, one JSON array of arguments and
// one of results per chunk rather than per call (Python: Pool.map's
// chunksize). Package proc implements it; an executor that does not is
// fed one Call per input, as before.
type BatchExecutor interface {
	Executor
	// ExecBatch takes ownership of b as Exec does of a Call: it arranges
	// for every element of b to be completed exactly once, by
	// b.Complete over ranges of elements or by Complete of b.Call(i). It
	// may split b over several workers, and must give up on elements
	// still waiting when b.Context() ends. If it returns an error it took
	// none of b, and the caller completes every element itself.
	ExecBatch(b Batch) error
}

// Batch is a run of calls of one task, as a BatchExecutor sees it:
// elements 0 to Len()-1, each with its own argument, result and error.
// Ranges are half-open, [from, to). An in-process executor runs element
// i with Call(i).Invoke and completes runs of successes at once with
// Complete. An executor that crosses process boundaries sends EncodeArgs
// of a range to a worker (which runs it with DecodeBatch), feeds the
// replies to DecodeResults, and ends the range with Complete; it can also
// use Call(i) to retry one element on its own.
type Batch interface {
	// Task returns the registered task name, the same for all elements.
	Task() string
	// Context returns the submitter's context, shared by all elements.
	Context() context.Context
	// Len returns the number of elements.
	Len() int
	// Call returns element i as a Call; its Complete completes element i
	// only.
	Call(i int) Call
	// EncodeArgs returns the arguments of elements [from, to) as one JSON
	// array.
	EncodeArgs(from, to int) ([]byte, error)
	// DecodeResults keeps the results in data, a JSON array, as those of
	// elements from, from+1, … and returns how many it kept. It fails
	// if data is not a JSON array or holds more than to-from results; a
	// value that does not decode into the result type becomes that
	// element's error, reported when it is completed.
	DecodeResults(from, to int, data []byte) (int, error)
	// Complete finishes elements [from, to): with err nil, their kept
	// results are delivered; otherwise err is. Each element must be
	// completed once; ranges may be completed in any order and from any
	// goroutine.
	Complete(from, to int, err error)
}

// EncodedBatch is a Batch's arguments decoded on the worker side of an
// executor that crosses process boundaries (see DecodeBatch).
type EncodedBatch interface {
	// Len returns the number of elements.
	Len() int
	// Run runs element i (panics recovered) and keeps its result.
	Run(ctx context.Context, i int) error
	// AppendResults appends the kept results of elements [from, to) to buf
	// as one JSON array. If one of them cannot be encoded it returns an
	// error; call it again per element to find which.
	AppendResults(buf []byte, from, to int) ([]byte, error)
}

// DecodeBatch decodes args, a JSON array of arguments of the registered
// task name (from Batch.EncodeArgs), for a worker to Run them one by one.
// ctx given to Run should come from a Worker, as for RunEncoded.
func DecodeBatch(name string, args []byte) (EncodedBatch, error) {
	registry.RLock()
	r, ok := registry.tasks[name]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTask, name)
	}
	return r.decodeBatch(args)
}

type encodedBatch[A, R any] struct {
	def  *taskDef[A, R]
	args []A
	res  []R
}

func (d *taskDef[A, R]) decodeBatch(args []byte) (EncodedBatch, error) {
	a, err := decodeArray[A](args, nil)
	if err != nil {
		return nil, Permanent(fmt.Errorf("crew: task %q: decode arguments: %w", d.name, err))
	}
	return &encodedBatch[A, R]{def: d, args: a, res: make([]R, len(a))}, nil
}

func (b *encodedBatch[A, R]) Len() int { return len(b.args) }

func (b *encodedBatch[A, R]) Run(ctx context.Context, i int) error {
	r, err := b.def.invoke(ctx, b.args[i])
	b.res[i] = r
	return err
}

func (b *encodedBatch[A, R]) AppendResults(buf []byte, from, to int) ([]byte, error) {
	out, err := appendArray(buf, b.res[from:to])
	if err != nil {
		return buf, Permanent(fmt.Errorf("crew: task %q: encode result: %w", b.def.name, err))
	}
	return out, nil
}

// chunk is the Batch behind Map on a BatchExecutor: a run of consecutive
// inputs, with room for their results.
type chunk[A, R any] struct {
	ctx    context.Context
	def    *taskDef[A, R]
	base   int // Map index of element 0
	args   []A
	res    []R
	events *rangeQueue[A, R]

	mu   sync.Mutex // guards the allocation of errs
	errs []error    // nil until an element fails

	// Map's consumer only: which elements completed, and the first not
	// yet yielded (in order).
	done []bool
	next int
}

// chunkRange reports elements [from, to) of c completed.
type chunkRange[A, R any] struct {
	c        *chunk[A, R]
	from, to int
}

func (c *chunk[A, R]) Task() string             { return c.def.name }
func (c *chunk[A, R]) Context() context.Context { return c.ctx }
func (c *chunk[A, R]) Len() int                 { return len(c.args) }
func (c *chunk[A, R]) Call(i int) Call          { return &chunkCall[A, R]{c, i} }

func (c *chunk[A, R]) EncodeArgs(from, to int) ([]byte, error) {
	b, err := appendArray(nil, c.args[from:to])
	if err != nil {
		return nil, Permanent(fmt.Errorf("crew: task %q: encode argument: %w", c.def.name, err))
	}
	return b, nil
}

func (c *chunk[A, R]) DecodeResults(from, to int, data []byte) (int, error) {
	room, err := decodeArray(data, c.res[from:from:to]) // in place, unless there are too many
	if err == nil {
		if len(room) > to-from {
			return 0, fmt.Errorf("crew: task %q: %d results for %d elements", c.def.name, len(room), to-from)
		}
		return len(room), nil
	}
	// Some value does not fit R (or data is no array): decode one by one
	// so that only the culprits fail.
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return 0, fmt.Errorf("crew: task %q: decode results: %w", c.def.name, err)
	}
	if len(raw) > to-from {
		return 0, fmt.Errorf("crew: task %q: %d results for %d elements", c.def.name, len(raw), to-from)
	}
	for k, v := range raw {
		c.res[from+k] = *new(R)
		if err := json.Unmarshal(v, &c.res[from+k]); err != nil {
			c.setErr(from+k, Permanent(fmt.Errorf("crew: task %q: decode result: %w", c.def.name, err)))
		}
	}
	return len(raw), nil
}

func (c *chunk[A, R]) setErr(i int, err error) {
	c.mu.Lock()
	if c.errs == nil {
		c.errs = make([]error, len(c.args))
	}
	c.errs[i] = err
	c.mu.Unlock()
}

func (c *chunk[A, R]) Complete(from, to int, err error) {
	if err != nil {
		for i := from; i < to; i++ {
			c.setErr(i, err)
			c.res[i] = *new(R)
		}
	}
	c.events.push(chunkRange[A, R]{c, from, to})
}

// failures returns the element errors so far, nil if none. Each element's
// entry is final once its completion has been received.
func (c *chunk[A, R]) failures() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errs
}

// result returns element i's outcome, given failures() read after its
// completion was received.
func (c *chunk[A, R]) result(errs []error, i int) Result[R] {
	r := Result[R]{Index: c.base + i, Value: c.res[i]}
	if errs != nil {
		if r.Err = errs[i]; r.Err != nil {
			r.Value = *new(R)
		}
	}
	return r
}

// chunkCall is one element of a chunk as a Call.
type chunkCall[A, R any] struct {
	c *chunk[A, R]
	i int
}

func (e *chunkCall[A, R]) Task() string             { return e.c.def.name }
func (e *chunkCall[A, R]) Context() context.Context { return e.c.ctx }

func (e *chunkCall[A, R]) Invoke(ctx context.Context) error {
	r, err := e.c.def.invoke(ctx, e.c.args[e.i])
	if err == nil {
		e.c.res[e.i] = r
	}
	return err
}

func (e *chunkCall[A, R]) EncodeArg() ([]byte, error) {
	b, err := json.Marshal(e.c.args[e.i])
	if err != nil {
		return nil, Permanent(fmt.Errorf("crew: task %q: encode argument: %w", e.c.def.name, err))
	}
	return b, nil
}

func (e *chunkCall[A, R]) DecodeResult(data []byte) error {
	var r R
	if err := json.Unmarshal(data, &r); err != nil {
		return Permanent(fmt.Errorf("crew: task %q: decode result: %w", e.c.def.name, err))
	}
	e.c.res[e.i] = r
	return nil
}

func (e *chunkCall[A, R]) Complete(err error) { e.c.Complete(e.i, e.i+1, err) }
