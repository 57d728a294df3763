package crew

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"time"
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
}

// DefaultWindow is Map's default bound on the inputs in flight plus the
// results held back for ordering. Map hands executors chunks of inputs,
// and a chunk's round trip to a worker process takes a while: the window
// must cover enough tiny tasks to keep the workers busy meanwhile. Chunks
// keep arguments and results in plain slices, so that is little memory
// for small values.
const DefaultWindow = 8192

// Unordered makes Map yield results as tasks complete (Python:
// as_completed) instead of in input order (Python: Pool.map).
func Unordered() MapOption { return func(c *mapConfig) { c.unordered = true } }

// Window bounds the inputs in flight plus the finished results Map holds
// back to keep input order; it is what keeps memory flat on endless
// inputs. In order, one slow task stalls the stream after n more inputs.
// The default is DefaultWindow.
func Window(n int) MapOption { return func(c *mapConfig) { c.window = n } }

// Map runs t over every element of in on ex and yields the results: in
// input order by default, as they complete with Unordered. Inputs are
// pulled only as the window allows, so in may be endless. A failed task
// yields a Result with Err set and the stream goes on.
//
// Map hands the executor chunks of consecutive inputs, one at first,
// doubling while the input keeps coming, which makes tiny tasks cheap;
// a chunk's elements still succeed, fail and are yielded one by one.
//
// Breaking out of the range loop stops feeding, cancels the running
// tasks and ends the iteration once they have returned. So does ctx
// ending, and then — unless every input was already yielded — Map yields
// one last Result with Index -1 and an Err wrapping ctx's error
// (errors.Is(r.Err, context.Canceled), or context.DeadlineExceeded), so a
// stream cut short is never taken for a complete one. If in blocks, it
// should itself stop when ctx ends.
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
		mctx, cancel := context.WithCancel(ctx)
		m := &mapper[A, R]{
			ctx: mctx, ex: ex, def: t.def, window: cfg.window,
			maxChunk: max(1, min(cfg.window/4, maxChunk)),
			events:   &rangeQueue[A, R]{wake: make(chan struct{}, 1)},
			total:    make(chan int, 1),
			n:        -1,
		}
		m.room = sync.NewCond(&m.mu)
		m.stall = time.AfterFunc(time.Hour, m.flushStalled)
		m.stall.Stop()
		go m.feed(in)
		var more bool
		if cfg.unordered {
			more = m.unordered(yield)
		} else {
			more = m.ordered(yield)
		}
		m.stop(cancel)
		// ctx may end after the last result was yielded but before the
		// consumer loop saw the input's end: that stream is complete.
		if more && ctx.Err() != nil && !(m.exhausted && m.yielded == m.n) {
			yield(Result[R]{Index: -1, Err: fmt.Errorf("crew: Map stopped before the end of its input: %w", ctx.Err())})
		}
	}
}

// Map hands the executor chunks of consecutive inputs. The first chunk
// holds one input, so that the first result comes back as soon as
// possible and a short input still spreads over the workers; each chunk
// that fills up doubles the size of the next, up to a quarter of the
// window (and maxChunk), so that a long input travels in few, large
// hand-offs. A chunk goes out when full, or partly filled stallDelay
// after its first input — when the input or the window stalls.
const (
	maxChunk   = 4096
	stallDelay = 200 * time.Microsecond
)

type mapper[A, R any] struct {
	ctx      context.Context
	ex       Executor
	def      *taskDef[A, R]
	window   int
	maxChunk int
	events   *rangeQueue[A, R]  // completed ranges
	ready    []chunkRange[A, R] // taken from events, not yet handled
	total    chan int           // the feeder's count of inputs, sent once it stops
	n        int                // total, once known (-1 before)
	received int                // inputs whose completion was received
	yielded  int                // results yielded to the consumer

	mu        sync.Mutex
	room      *sync.Cond   // signalled when held drops
	held      int          // inputs pulled and not yet yielded (or dropped)
	cur       *chunk[A, R] // the chunk being filled
	next      int          // Map index of the next input
	stall     *time.Timer  // sends out a chunk stallDelay after its first input
	exhausted bool         // the feeder reached the end of the input
}

func (m *mapper[A, R]) feed(in iter.Seq[A]) {
	wake := context.AfterFunc(m.ctx, func() {
		m.mu.Lock()
		m.room.Broadcast()
		m.mu.Unlock()
	})
	defer wake()
	finished := false
	defer func() {
		m.mu.Lock()
		c := m.takeLocked()
		m.stall.Stop()
		n := m.next
		m.exhausted = finished
		m.mu.Unlock()
		m.dispatch(c)
		m.total <- n
	}()
	size := 1
	for a := range in {
		m.mu.Lock()
		if m.ctx.Err() != nil { // the consumer stopped: pull no more input
			m.mu.Unlock()
			return
		}
		if m.held >= m.window {
			// No room. Results of earlier chunks will free some, and the
			// chunk being filled waits for it (or for stallDelay), so that
			// a full window does not degrade into tiny chunks; but if it
			// holds every input taken, only it can free room.
			if m.cur != nil && len(m.cur.args) == m.held {
				c := m.takeLocked()
				m.mu.Unlock()
				m.dispatch(c)
				m.mu.Lock()
			}
			for m.held >= m.window && m.ctx.Err() == nil {
				m.room.Wait()
			}
			if m.ctx.Err() != nil {
				m.mu.Unlock()
				return
			}
		}
		m.held++
		if m.cur == nil {
			m.cur = &chunk[A, R]{ctx: m.ctx, def: m.def, base: m.next, args: make([]A, 0, size), events: m.events}
			if size > 1 {
				m.stall.Reset(stallDelay)
			}
		}
		m.cur.args = append(m.cur.args, a)
		m.next++
		var full *chunk[A, R]
		if len(m.cur.args) >= size {
			full = m.takeLocked()
			size = min(2*size, m.maxChunk)
		}
		m.mu.Unlock()
		m.dispatch(full)
	}
	finished = true
}

// takeLocked returns the chunk being filled, ready to go, or nil.
func (m *mapper[A, R]) takeLocked() *chunk[A, R] {
	c := m.cur
	if c != nil {
		m.cur = nil
		c.res = make([]R, len(c.args))
	}
	return c
}

func (m *mapper[A, R]) flushStalled() {
	m.mu.Lock()
	c := m.takeLocked()
	m.mu.Unlock()
	m.dispatch(c)
}

func (m *mapper[A, R]) dispatch(c *chunk[A, R]) {
	if c == nil {
		return
	}
	if err := m.ex.Exec(c); err != nil {
		c.Complete(0, len(c.args), err)
	}
}

// release frees room for k more inputs.
func (m *mapper[A, R]) release(k int) {
	m.mu.Lock()
	m.held -= k
	m.room.Signal()
	m.mu.Unlock()
}

// nextRange returns the next completed range, or false when all inputs
// are in or ctx ended.
func (m *mapper[A, R]) nextRange() (chunkRange[A, R], bool) {
	for {
		if len(m.ready) > 0 {
			r := m.ready[0]
			m.ready = m.ready[1:]
			m.received += r.to - r.from
			return r, true
		}
		if m.n >= 0 && m.received == m.n {
			return chunkRange[A, R]{}, false
		}
		if m.ready = m.events.take(m.ready[:0]); len(m.ready) > 0 {
			continue
		}
		select {
		case <-m.events.wake:
		case m.n = <-m.total:
		case <-m.ctx.Done():
			return chunkRange[A, R]{}, false
		}
	}
}

// stop cancels the remaining work and waits for the feeder and every
// input it took, so nothing of this Map outlives it.
func (m *mapper[A, R]) stop(cancel context.CancelFunc) {
	cancel()
	if m.n < 0 {
		m.n = <-m.total
	}
	for _, r := range m.ready {
		m.received += r.to - r.from
	}
	m.ready = nil
	for m.received < m.n {
		<-m.events.wake
		for _, r := range m.events.take(nil) {
			m.received += r.to - r.from
		}
	}
}

// rangeQueue carries completed ranges from the executor to Map's
// consumer. Completing never blocks, and the queue takes memory for the
// ranges waiting, not for the window.
type rangeQueue[A, R any] struct {
	mu   sync.Mutex
	q    []chunkRange[A, R]
	wake chan struct{} // holds a token while q may be non-empty
}

func (q *rangeQueue[A, R]) push(r chunkRange[A, R]) {
	q.mu.Lock()
	q.q = append(q.q, r)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns the waiting ranges, appended to buf, and empties the queue.
func (q *rangeQueue[A, R]) take(buf []chunkRange[A, R]) []chunkRange[A, R] {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf, q.q...)
	q.q = q.q[:0]
	return buf
}

// unordered yields results as their ranges complete; it reports false if
// the consumer stopped.
func (m *mapper[A, R]) unordered(yield func(Result[R]) bool) bool {
	for r, ok := m.nextRange(); ok; r, ok = m.nextRange() {
		errs := r.c.failures()
		for i := r.from; i < r.to; i++ {
			if !yield(r.c.result(errs, i)) {
				return false
			}
			m.yielded++
		}
		m.release(r.to - r.from)
	}
	return true
}

// ordered yields results in input order; it reports false if the
// consumer stopped.
func (m *mapper[A, R]) ordered(yield func(Result[R]) bool) bool {
	chunks := map[int]*chunk[A, R]{} // with completed elements not yet yielded, by base
	head := 0                        // Map index of the next result
	for r, ok := m.nextRange(); ok; r, ok = m.nextRange() {
		c := r.c
		if c.done == nil {
			c.done = make([]bool, len(c.args))
			chunks[c.base] = c
		}
		for i := r.from; i < r.to; i++ {
			c.done[i] = true
		}
		yielded := 0
		for {
			h := chunks[head]
			if h == nil {
				break
			}
			errs := h.failures()
			for h.next < len(h.args) && h.done[h.next] {
				if !yield(h.result(errs, h.next)) {
					return false
				}
				h.next++
				yielded++
				m.yielded++
			}
			if h.next < len(h.args) {
				break
			}
			delete(chunks, head)
			head += len(h.args)
		}
		m.release(yielded)
	}
	return true
}
