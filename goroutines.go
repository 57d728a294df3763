package crew

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Goroutines returns an executor that runs tasks on a fixed set of worker
// goroutines in this process, passing arguments and results as Go values
// (nothing is encoded). It is a BatchExecutor: Map hands it chunks of
// inputs, which a worker runs in order while sharing the rest of its
// chunk with workers that are idle. Timeout cancels the task's context; Go cannot kill
// a goroutine, so a task that ignores its context runs on — use package
// proc when a runaway task must be killed.
//
// Options are validated here; an invalid one makes every call fail with an
// error wrapping ErrInvalidOption.
func Goroutines(opts ...Option) Executor {
	cfg, err := NewConfig(opts...)
	if err != nil {
		return invalidExecutor{err}
	}
	size := max(1024, 4*cfg.Workers)
	e := &goroutines{cfg: cfg, queue: make(chan work, size), shared: make(chan work, size)}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go e.work()
	}
	return e
}

type goroutines struct {
	cfg    Config
	ctx    context.Context // the workers' lifetime, for their per-worker values
	cancel context.CancelFunc
	queue  chan work
	shared chan work    // the rest of ranges a worker started: older than anything queued
	mu     sync.RWMutex // read-held while sending on queue; write-held to close it
	closed bool
	wg     sync.WaitGroup
	idle   atomic.Int32 // workers waiting for work
}

// work is a queued call, or with b set, elements [from, to) of a batch.
type work struct {
	c        Call
	b        Batch
	from, to int
}

func (e *goroutines) Exec(c Call) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	ctx := c.Context()
	e.cfg.Progress.Submitted() // before a worker can finish it
	select {
	case e.queue <- work{c: c}:
	default:
		select {
		case e.queue <- work{c: c}:
		case <-ctx.Done():
			e.cfg.Progress.Withdrawn()
			return ctx.Err()
		}
	}
	return nil
}

// ExecBatch queues b whole. The worker that takes it runs its elements in
// order, completing successes in runs, and hands the second half of what
// is left to the queue whenever another worker is idle — so that a chunk
// of slow tasks still spreads over all workers.
func (e *goroutines) ExecBatch(b Batch) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	n := b.Len()
	if e.cfg.Progress != nil {
		for range n {
			e.cfg.Progress.Submitted()
		}
	}
	select {
	case e.queue <- work{b: b, to: n}:
	case <-b.Context().Done():
		if e.cfg.Progress != nil {
			for range n {
				e.cfg.Progress.Withdrawn()
			}
		}
		return b.Context().Err()
	}
	return nil
}

// Close stops accepting calls, lets the workers finish every call already
// queued, and waits for them.
func (e *goroutines) Close() error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.queue)
	}
	e.mu.Unlock()
	e.wg.Wait()
	e.cancel()
	return nil
}

func (e *goroutines) work() {
	defer e.wg.Done()
	var w *Worker
	defer func() {
		if w != nil {
			w.Close()
		}
	}()
	slow := true // until this worker has timed an element: it shares eagerly
	var ctxOf Batch
	var bctx context.Context
	for {
		it, ok := e.next()
		if !ok {
			return
		}
		if w == nil {
			// Even without Initialize: Init.From keeps what it builds here.
			var err error
			if w, err = NewWorker(e.ctx, e.cfg.Inits); err != nil {
				// The next item tries the initializers again.
				if it.b != nil {
					for range it.to - it.from {
						e.cfg.Progress.Finished(false, err)
					}
					it.b.Complete(it.from, it.to, err)
				} else {
					e.cfg.Progress.Finished(false, err)
					it.c.Complete(err)
				}
				continue
			}
		}
		if it.b != nil {
			if it.b != ctxOf { // the context carrying w, once per batch
				ctxOf, bctx = it.b, w.Context(it.b.Context())
			}
			e.runRange(bctx, it, &slow)
		} else {
			run(e.cfg, w, it.c)
		}
	}
}

// slowElement is how long an element must run for its worker to share
// the rest of its range before each element, rather than only when a
// worker is idle: slow elements then spread one by one, as single calls
// do, and no worker waits for one to end before it gets work.
const slowElement = 50 * time.Microsecond

// next returns the next work: shared first, to keep roughly to input
// order; false once the executor is closed and nothing is left. Work is
// shared only before Close, by workers that go on to look here first.
func (e *goroutines) next() (work, bool) {
	select {
	case it := <-e.shared:
		return it, true
	default:
	}
	e.idle.Add(1)
	defer e.idle.Add(-1)
	select {
	case it := <-e.shared:
		return it, true
	case it, ok := <-e.queue:
		if ok {
			return it, true
		}
	}
	select {
	case it := <-e.shared:
		return it, true
	default:
		return work{}, false
	}
}

// runRange runs elements [it.from, it.to) of it.b in order, with ctx: the
// batch's context carrying the worker. Successes are
// completed together, in runs of at most a millisecond, so that tiny
// tasks cost one hand-off per run and slow ones are reported as they end.
// *slow says whether the last element this worker ran was slow.
func (e *goroutines) runRange(ctx context.Context, it work, slow *bool) {
	b := it.b
	runStart, since := it.from, time.Now()
	last := since // when the previous element ended
	for i := it.from; i < it.to; i++ {
		switch {
		case it.to-i < 2:
		case *slow:
			it.to = e.share(it, i+1) // all but element i: slow ones go one by one
		case e.idle.Load() > 0:
			it.to = e.share(it, i+(it.to-i+1)/2)
		}
		err := runElement(e.cfg, ctx, b.Call(i))
		now := time.Now()
		*slow, last = now.Sub(last) > slowElement, now
		if err != nil || now.Sub(since) > time.Millisecond {
			end := i
			if err == nil {
				end = i + 1
			}
			if runStart < end {
				b.Complete(runStart, end, nil)
			}
			if err != nil {
				b.Complete(i, i+1, err)
			}
			runStart, since = i+1, now
		}
	}
	if runStart < it.to {
		b.Complete(runStart, it.to, nil)
	}
}

// share hands it's elements from mid on to the other workers, if there
// is room, and returns the new end of it.
func (e *goroutines) share(it work, mid int) int {
	// TryRLock: with Close waiting for the lock, RLock would block, and an
	// ExecBatch blocked on a full queue could then wait for this worker.
	if !e.mu.TryRLock() {
		return it.to
	}
	defer e.mu.RUnlock()
	if e.closed {
		return it.to
	}
	select {
	case e.shared <- work{b: it.b, from: mid, to: it.to}:
		return mid
	default:
		return it.to
	}
}

// run runs c in this goroutine under cfg's timeout and retries, with w's
// per-worker values.
func run(cfg Config, w *Worker, c Call) {
	c.Complete(runElement(cfg, w.Context(c.Context()), c))
}

// runElement runs c in this goroutine under cfg's timeout and retries,
// with ctx (c's context carrying the worker), and returns the error to
// complete it with.
func runElement(cfg Config, ctx context.Context, c Call) error {
	if err := ctx.Err(); err != nil {
		cfg.Progress.Finished(false, err)
		return err
	}
	cfg.Progress.Started()
	for attempt := 0; ; attempt++ {
		err := invokeAttempt(ctx, cfg.Timeout, c)
		if err == nil || attempt >= cfg.Retries || IsPermanent(err) || ctx.Err() != nil || !sleep(ctx, cfg.RetryDelay(attempt+1)) {
			cfg.Progress.Finished(true, err)
			return err
		}
	}
}

func invokeAttempt(ctx context.Context, timeout time.Duration, c Call) error {
	if timeout <= 0 {
		return c.Invoke(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := c.Invoke(actx)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("%w after %v: %w", ErrTimeout, timeout, err)
	}
	return err
}

// sleep waits d or until ctx ends, and reports whether it waited it out.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// invalidExecutor fails every call with the option error it was made with.
type invalidExecutor struct{ err error }

func (e invalidExecutor) Exec(Call) error { return e.err }
func (e invalidExecutor) Close() error    { return nil }
