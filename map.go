package crew

import (
	"context"
	"fmt"
	"iter"
)

// Result is one outcome of Map: the input's position in the input
// sequence, and the task's value or error.
type Result[R any] struct {
	Index int
	Value R
	Err   error
}

// MapOption configures Map.
type MapOption func(*mapConfig)

type mapConfig struct {
	unordered bool
	window    int
	windowSet bool
}

// DefaultWindow is Map's default bound on tasks in flight plus results
// held for ordering. On a BatchExecutor (Goroutines, package proc) the
// default is eight times larger: a chunk's round trip to a worker process
// takes a while, and the window must cover enough tiny tasks to keep the
// workers busy meanwhile. Chunks keep arguments and results in plain
// slices, so that is still little memory for small values.
const DefaultWindow = 1024

// batchWindow is Map's default window on a BatchExecutor.
const batchWindow = 8 * DefaultWindow

// Unordered makes Map yield results as tasks complete (Python:
// as_completed) instead of in input order (Python: Pool.map).
func Unordered() MapOption { return func(c *mapConfig) { c.unordered = true } }

// Window bounds the tasks in flight plus the finished results Map holds
// back to keep input order; it is what keeps memory flat on endless
// inputs. In order, one slow task stalls the stream after n more inputs.
// The default is DefaultWindow (eight times that on a BatchExecutor).
func Window(n int) MapOption { return func(c *mapConfig) { c.window, c.windowSet = n, true } }

type mapSink[A, R any] struct {
	results chan *call[A, R]
}

// Map runs t over every element of in on ex and yields the results: in
// input order by default, as they complete with Unordered. Inputs are
// pulled only as the window allows, so in may be endless. A failed task
// yields a Result with Err set and the stream goes on.
//
// On a BatchExecutor (Goroutines, package proc) Map hands the executor
// chunks of inputs that grow while the input keeps coming, which makes
// tiny tasks cheap; a chunk's elements still succeed, fail and are
// yielded one by one.
//
// Breaking out of the range loop, or cancelling ctx, stops feeding,
// cancels the running tasks' contexts and ends the iteration once they
// have returned. If in blocks, it should itself stop when ctx ends.
func Map[A, R any](ctx context.Context, ex Executor, t Task[A, R], in iter.Seq[A], opts ...MapOption) iter.Seq[Result[R]] {
	cfg := mapConfig{window: DefaultWindow}
	for _, o := range opts {
		o(&cfg)
	}
	return func(yield func(Result[R]) bool) {
		if cfg.window < 1 {
			yield(Result[R]{Index: -1, Err: fmt.Errorf("%w: Window(%d): need at least 1", ErrInvalidOption, cfg.window)})
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if bex, ok := ex.(BatchExecutor); ok {
			if !cfg.windowSet {
				cfg.window = batchWindow
			}
			mapChunks(ctx, cancel, bex, t, in, cfg, yield)
			return
		}
		m := &mapper[A, R]{
			sink:   &mapSink[A, R]{results: make(chan *call[A, R], cfg.window)},
			tokens: make(chan struct{}, cfg.window),
			total:  make(chan int, 1),
		}
		go m.feed(ctx, ex, t, in)
		if cfg.unordered {
			m.unordered(ctx, cancel, yield)
		} else {
			m.ordered(ctx, cancel, cfg.window, yield)
		}
	}
}

type mapper[A, R any] struct {
	sink     *mapSink[A, R]
	tokens   chan struct{} // one per input in flight or held; capacity = window
	total    chan int      // the feeder's count of calls made, sent once it stops
	n        int           // total, once known (-1 before)
	received int
}

func (m *mapper[A, R]) feed(ctx context.Context, ex Executor, t Task[A, R], in iter.Seq[A]) {
	n := 0
	defer func() { m.total <- n }()
	for a := range in {
		select {
		case m.tokens <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if ctx.Err() != nil { // select picked the slot although ctx had ended
			<-m.tokens
			return
		}
		c := &call[A, R]{ctx: ctx, def: t.def, arg: a, index: n, sink: m.sink}
		n++
		if err := ex.Exec(c); err != nil {
			c.Complete(err)
		}
	}
}

// next returns the next completed call, or nil when all calls are in or
// ctx ended.
func (m *mapper[A, R]) next(ctx context.Context) *call[A, R] {
	for {
		if m.n >= 0 && m.received == m.n {
			return nil
		}
		select {
		case c := <-m.sink.results:
			m.received++
			return c
		case m.n = <-m.total:
		case <-ctx.Done():
			return nil
		}
	}
}

// stop cancels the remaining work and waits for the feeder and every call
// it made, so nothing of this Map outlives it.
func (m *mapper[A, R]) stop(cancel context.CancelFunc) {
	cancel()
	if m.n < 0 {
		m.n = <-m.total
	}
	for m.received < m.n {
		<-m.sink.results
		m.received++
	}
}

func result[A, R any](c *call[A, R]) Result[R] {
	return Result[R]{Index: c.index, Value: c.res, Err: c.err}
}

func (m *mapper[A, R]) unordered(ctx context.Context, cancel context.CancelFunc, yield func(Result[R]) bool) {
	m.n = -1
	defer m.stop(cancel)
	for c := m.next(ctx); c != nil; c = m.next(ctx) {
		<-m.tokens
		if !yield(result(c)) {
			return
		}
	}
}

func (m *mapper[A, R]) ordered(ctx context.Context, cancel context.CancelFunc, window int, yield func(Result[R]) bool) {
	m.n = -1
	defer m.stop(cancel)
	held := make([]*call[A, R], window) // indexed by Index % window
	nextIndex := 0
	for c := m.next(ctx); c != nil; c = m.next(ctx) {
		held[c.index%window] = c
		for {
			slot := nextIndex % window
			c := held[slot]
			if c == nil {
				break
			}
			held[slot] = nil
			nextIndex++
			<-m.tokens
			if !yield(result(c)) {
				return
			}
		}
	}
}
