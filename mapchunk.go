package crew

import (
	"context"
	"iter"
	"sync"
	"time"
)

// Map on a BatchExecutor hands the executor chunks of consecutive inputs.
// The first chunk holds one input, so that the first result comes back
// as soon as possible and a short input still spreads over the workers;
// each chunk that fills up doubles the size of the next, up to a quarter
// of the window (and maxChunk), so that a long input travels in few,
// large hand-offs. A chunk goes out when full, or partly filled
// stallDelay after its first input — when the input or the window stalls.
const (
	maxChunk   = 4096
	stallDelay = 200 * time.Microsecond
)

type chunkMapper[A, R any] struct {
	ctx      context.Context
	ex       BatchExecutor
	def      *taskDef[A, R]
	window   int
	maxChunk int
	events   *rangeQueue[A, R]  // completed ranges
	ready    []chunkRange[A, R] // taken from events, not yet handled
	total    chan int           // the feeder's count of inputs, sent once it stops
	n        int                // total, once known (-1 before)
	received int                // inputs whose completion was received

	mu    sync.Mutex
	room  *sync.Cond   // signalled when held drops
	held  int          // inputs pulled and not yet yielded (or dropped)
	cur   *chunk[A, R] // the chunk being filled
	next  int          // Map index of the next input
	stall *time.Timer  // sends out a chunk stallDelay after its first input
}

func mapChunks[A, R any](ctx context.Context, cancel context.CancelFunc, ex BatchExecutor, t Task[A, R], in iter.Seq[A], cfg mapConfig, yield func(Result[R]) bool) {
	m := &chunkMapper[A, R]{
		ctx: ctx, ex: ex, def: t.def, window: cfg.window,
		maxChunk: max(1, min(cfg.window/4, maxChunk)),
		events:   &rangeQueue[A, R]{wake: make(chan struct{}, 1)},
		total:    make(chan int, 1),
		n:        -1,
	}
	m.room = sync.NewCond(&m.mu)
	m.stall = time.AfterFunc(time.Hour, m.flushStalled)
	m.stall.Stop()
	go m.feed(in)
	defer m.stop(cancel)
	if cfg.unordered {
		m.unordered(yield)
	} else {
		m.ordered(yield)
	}
}

func (m *chunkMapper[A, R]) feed(in iter.Seq[A]) {
	wake := context.AfterFunc(m.ctx, func() {
		m.mu.Lock()
		m.room.Broadcast()
		m.mu.Unlock()
	})
	defer wake()
	defer func() {
		m.mu.Lock()
		c := m.takeLocked()
		m.stall.Stop()
		n := m.next
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
}

// takeLocked returns the chunk being filled, ready to go, or nil.
func (m *chunkMapper[A, R]) takeLocked() *chunk[A, R] {
	c := m.cur
	if c != nil {
		m.cur = nil
		c.res = make([]R, len(c.args))
	}
	return c
}

func (m *chunkMapper[A, R]) flushStalled() {
	m.mu.Lock()
	c := m.takeLocked()
	m.mu.Unlock()
	m.dispatch(c)
}

func (m *chunkMapper[A, R]) dispatch(c *chunk[A, R]) {
	if c == nil {
		return
	}
	if err := m.ex.ExecBatch(c); err != nil {
		c.Complete(0, len(c.args), err)
	}
}

// release frees room for k more inputs.
func (m *chunkMapper[A, R]) release(k int) {
	m.mu.Lock()
	m.held -= k
	m.room.Signal()
	m.mu.Unlock()
}

// nextRange returns the next completed range, or false when all inputs
// are in or ctx ended.
func (m *chunkMapper[A, R]) nextRange() (chunkRange[A, R], bool) {
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
func (m *chunkMapper[A, R]) stop(cancel context.CancelFunc) {
	cancel()
	if m.n < 0 {
		m.n = <-m.total
	}
	for _, r := range m.ready {
		m.received += r.to - r.from
	}
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

func (m *chunkMapper[A, R]) unordered(yield func(Result[R]) bool) {
	for r, ok := m.nextRange(); ok; r, ok = m.nextRange() {
		errs := r.c.failures()
		for i := r.from; i < r.to; i++ {
			if !yield(r.c.result(errs, i)) {
				return
			}
		}
		m.release(r.to - r.from)
	}
}

func (m *chunkMapper[A, R]) ordered(yield func(Result[R]) bool) {
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
					return
				}
				h.next++
				yielded++
			}
			if h.next < len(h.args) {
				break
			}
			delete(chunks, head)
			head += len(h.args)
		}
		m.release(yielded)
	}
}
