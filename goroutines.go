package crew

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crewrun/crew/executor"
)

// Goroutines returns an executor that runs tasks on a fixed set of worker
// goroutines in this process, passing arguments and results as Go values
// (nothing is encoded). A worker runs a batch's elements in order,
// sharing the rest of its batch with workers that are idle.
//
// Under Timeout a task that ignores its cancelled context is abandoned
// after a grace period: it fails with ErrTimeout, its worker moves on,
// and its goroutine runs on until the task returns (Progress.Abandoned
// counts it meanwhile). Use package proc when a runaway task must be
// killed.
//
// An invalid option is a programming error: Goroutines panics with it.
func Goroutines(opts ...Option) Executor {
	cfg, err := executor.NewConfig(opts...)
	if err != nil {
		panic(fmt.Sprintf("crew: Goroutines: %v", err))
	}
	size := max(1024, 4*cfg.Workers)
	e := &goroutines{cfg: cfg, policy: cfg.Policy(), queue: make(chan work, size), shared: make(chan work, size)}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go e.work()
	}
	return e
}

type goroutines struct {
	cfg    executor.Config
	policy executor.Policy
	ctx    context.Context // the workers' lifetime, for their per-worker values
	cancel context.CancelFunc
	queue  chan work
	shared chan work    // the rest of ranges a worker started: older than anything queued
	mu     sync.RWMutex // read-held while sending on queue; write-held to close it
	closed bool
	wg     sync.WaitGroup
	idle   atomic.Int32 // workers waiting for work
}

// work is elements [from, to) of a batch.
type work struct {
	b        executor.Batch
	from, to int
}

// Exec queues b whole. The worker that takes it runs its elements in
// order, completing successes in runs, and hands the second half of what
// is left to the queue whenever another worker is idle — so that a batch
// of slow tasks still spreads over all workers.
func (e *goroutines) Exec(b executor.Batch) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return ErrClosed
	}
	n := b.Len()
	e.cfg.Progress.Submitted(n) // before a worker can finish it
	it := work{b: b, to: n}
	select {
	case e.queue <- it:
	default:
		select {
		case e.queue <- it:
		case <-b.Context().Done():
			e.cfg.Progress.Withdrawn(n)
			return b.Context().Err()
		}
	}
	return nil
}

// Close stops accepting calls, lets the workers finish every call already
// queued, and waits for them. Abandoned tasks (see Timeout) are not
// waited for.
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
	var w *executor.Worker
	defer func() {
		if w != nil {
			w.Close()
		}
	}()
	slow := true // until this worker has timed an element: it shares eagerly
	// The context carrying w, made once per submitter's context: calls
	// submitted in a loop with one context cost no allocation here.
	var ctxOf, bctx context.Context
	for {
		it, ok := e.next()
		if !ok {
			return
		}
		if w == nil {
			// Even without Initialize: Init.From keeps what it builds here.
			var err error
			if w, err = executor.NewWorker(e.ctx, e.cfg.Inits); err != nil {
				// The next item tries the initializers again.
				for range it.to - it.from {
					e.cfg.Progress.Finished(false, err)
				}
				it.b.Complete(it.from, it.to, err)
				continue
			}
		}
		if c := it.b.Context(); c != ctxOf {
			ctxOf, bctx = c, w.Context(c)
		}
		e.runRange(bctx, it, &slow)
	}
}

// slowElement is how long an element must run for its worker to share
// the rest of its range before each element, rather than only when a
// worker is idle: slow elements then spread one by one, and no worker
// waits for one to end before it gets work.
const slowElement = 50 * time.Microsecond

// next returns the next work: shared first, to keep roughly to input
// order; false once the executor is closed and nothing is left. Work is
// shared only before Close, by workers that go on to look here first.
func (e *goroutines) next() (work, bool) {
	// Non-blocking receives first: each a plain channel operation, where
	// a blocking select over two channels costs several times more.
	select {
	case it := <-e.shared:
		return it, true
	default:
	}
	select {
	case it, ok := <-e.queue:
		if ok {
			return it, true
		}
		return e.lastShared()
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
	return e.lastShared()
}

// lastShared returns what is left in shared once the queue is closed.
func (e *goroutines) lastShared() (work, bool) {
	select {
	case it := <-e.shared:
		return it, true
	default:
		return work{}, false
	}
}

// runRange runs elements [it.from, it.to) of it.b in order, with ctx: the
// batch's context carrying the worker. Successes are completed together,
// in runs of at most a millisecond, so that tiny tasks cost one hand-off
// per run and slow ones are reported as they end. *slow says whether the
// last element this worker ran was slow.
func (e *goroutines) runRange(ctx context.Context, it work, slow *bool) {
	b := it.b
	if it.to-it.from == 1 { // a Submit: nothing to share or time
		b.Complete(it.from, it.to, e.runElement(ctx, b, it.from))
		return
	}
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
		err := e.runElement(ctx, b, i)
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
	// Exec blocked on a full queue could then wait for this worker.
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

// runElement runs element i of b in this goroutine under the attempt
// policy, with ctx (b's context carrying the worker), and returns the
// error to complete it with.
func (e *goroutines) runElement(ctx context.Context, b executor.Batch, i int) error {
	if err := ctx.Err(); err != nil {
		e.cfg.Progress.Finished(false, err)
		return err
	}
	e.cfg.Progress.Started()
	err := e.policy.Run(ctx, b, i)
	e.cfg.Progress.Finished(true, err)
	return err
}
