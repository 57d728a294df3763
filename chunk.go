package crew

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/crewrun/crew/executor"
)

// chunk is the batch behind Map: a run of consecutive inputs, with room
// for their results.
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

func (c *chunk[A, R]) Run(ctx context.Context, i int) error {
	r, err := executor.Invoke(ctx, c.def.fn, c.args[i])
	c.res[i] = r
	return err
}

func (c *chunk[A, R]) Try(ctx context.Context, i int) (func(), error) {
	r, err := executor.Invoke(ctx, c.def.fn, c.args[i])
	if err != nil {
		return nil, err
	}
	return func() { c.res[i] = r }, nil
}

func (c *chunk[A, R]) EncodeArgs(from, to int) ([]byte, error) {
	return encodeArgs(c.def.name, c.args[from:to])
}

func (c *chunk[A, R]) DecodeResults(from, to int, data []byte) (int, error) {
	return decodeResults(c.def.name, c.res[from:to], data, func(k int, err error) { c.setErr(from+k, err) })
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
	if errs != nil && errs[i] != nil {
		return Result[R]{Index: c.base + i, Err: errs[i]}
	}
	return Result[R]{Index: c.base + i, Value: c.res[i]}
}

// decodeResults decodes data, a JSON array of at most len(res) values,
// into res and returns how many it held. A value that does not fit R
// fails that element alone, through fail(k, err).
func decodeResults[R any](task string, res []R, data []byte, fail func(k int, err error)) (int, error) {
	got, err := decodeArray(data, res[:0:len(res)]) // in place, unless there are too many
	if err == nil {
		if len(got) > len(res) {
			return 0, fmt.Errorf("crew: task %q: %d results for %d elements", task, len(got), len(res))
		}
		return len(got), nil
	}
	// Some value does not fit R (or data is no array): decode one by one
	// so that only the culprits fail.
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return 0, fmt.Errorf("crew: task %q: decode results: %w", task, err)
	}
	if len(raw) > len(res) {
		return 0, fmt.Errorf("crew: task %q: %d results for %d elements", task, len(raw), len(res))
	}
	for k, v := range raw {
		res[k] = *new(R)
		if err := json.Unmarshal(v, &res[k]); err != nil {
			fail(k, executor.Permanent(fmt.Errorf("crew: task %q: decode result: %w", task, err)))
		}
	}
	return len(raw), nil
}
