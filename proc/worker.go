package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/crewrun/crew"
)

// envWorker tells a re-executed binary that it is a worker.
const envWorker = "CREW_PROC_WORKER"

// ServeIfWorker makes the program a worker when the pool started it as
// one: call it first in main, and in TestMain for tests that use the pool.
// In the parent it returns at once; in a worker process it serves tasks
// and exits, never returning. It has no effect otherwise: the decision is
// the environment variable the pool sets.
func ServeIfWorker() {
	if os.Getenv(envWorker) == "" {
		return
	}
	os.Exit(serve(os.NewFile(3, "crew-from-pool"), os.NewFile(4, "crew-to-pool")))
}

// serve runs the worker side of the protocol until the pool closes its
// input, and returns the exit status.
func serve(in io.Reader, out io.Writer) int {
	// The protocol has its own descriptors; whatever tasks print on
	// standard output goes to standard error, which the pool forwards.
	stdoutToStderr()

	r := bufio.NewReaderSize(in, 64<<10)
	w := &workerOut{w: bufio.NewWriterSize(out, 64<<10)}
	defer w.flushEvery(time.Millisecond)()
	var hello message
	if err := readFrame(r, &hello); err != nil || hello.Type != msgHello {
		fmt.Fprintf(os.Stderr, "crew worker: no hello from the pool: %v\n", err)
		return 2
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	worker, err := crew.NewWorker(ctx, hello.Inits)
	if err != nil {
		w.send(&message{Type: msgInitFail, Error: crew.ToRemote(err)}, true)
		return 3
	}
	defer worker.Close()
	w.send(&message{Type: msgReady, PID: os.Getpid()}, true)

	q := &workQueue{cancelled: map[uint64]bool{}}
	q.cond = sync.NewCond(&q.mu)
	go q.read(r)
	timeout := time.Duration(hello.TimeoutMS) * time.Millisecond
	var resBuf []byte
	for {
		c, ok := q.next()
		if !ok {
			w.flush()
			return 0
		}
		tctx, cancel := context.WithCancel(worker.Context(ctx))
		var value []byte
		var err error
		if q.start(c.ID, cancel) {
			value, err = run(tctx, timeout, c)
			q.finish()
		} else {
			// Cancelled while queued. Every call still gets a result, in
			// order: the pool matches results to calls by position.
			err = context.Canceled
		}
		cancel()
		// Flush when nothing else is queued; otherwise results travel in
		// batches, and flushEvery sends them within a millisecond even if
		// the next task runs long.
		var sendErr error
		if err != nil {
			sendErr = w.send(&message{Type: msgResult, ID: c.ID, Error: crew.ToRemote(err)}, q.empty())
		} else {
			resBuf = appendValueResult(resBuf[:0], c.ID, value)
			sendErr = w.sendRaw(resBuf, q.empty())
		}
		if sendErr != nil {
			return 1 // the pool is gone
		}
	}
}

func run(ctx context.Context, timeout time.Duration, c wireCall) ([]byte, error) {
	if timeout <= 0 {
		return crew.RunEncoded(ctx, c.Task, c.Arg)
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := crew.RunEncoded(tctx, c.Task, c.Arg)
	if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) && !errors.Is(err, crew.ErrTimeout) {
		err = fmt.Errorf("%w after %v: %w", crew.ErrTimeout, timeout, err)
	}
	return v, err
}

type workerOut struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *workerOut) sendRaw(b []byte, flush bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := writeRaw(o.w, b); err != nil {
		return err
	}
	if flush {
		return o.w.Flush()
	}
	return nil
}

func (o *workerOut) send(m *message, flush bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := writeFrame(o.w, m); err != nil {
		return err
	}
	if flush {
		return o.w.Flush()
	}
	return nil
}

// flushEvery flushes buffered results every d until the returned stop
// is called.
func (o *workerOut) flushEvery(d time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				o.flush()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

func (o *workerOut) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.w.Flush()
}

// workQueue holds the calls a worker received and not yet ran; its reader
// goroutine also handles cancellations while a task runs.
type workQueue struct {
	mu        sync.Mutex
	cond      *sync.Cond
	calls     []wireCall
	eof       bool
	running   uint64
	cancel    context.CancelFunc
	cancelled map[uint64]bool
}

func (q *workQueue) read(r *bufio.Reader) {
	for {
		var m message
		err := readFrame(r, &m)
		q.mu.Lock()
		switch {
		case err != nil:
			q.eof = true
		case m.Type == msgCall:
			q.calls = append(q.calls, m.Calls...)
		case m.Type == msgCancel:
			if q.running == m.ID && q.cancel != nil {
				q.cancel()
			} else {
				q.cancelled[m.ID] = true
			}
		}
		q.cond.Broadcast()
		q.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (q *workQueue) next() (wireCall, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.calls) == 0 && !q.eof {
		q.cond.Wait()
	}
	if len(q.calls) == 0 {
		return wireCall{}, false
	}
	c := q.calls[0]
	q.calls = q.calls[1:]
	return c, true
}

// start records c as running, unless it was cancelled while queued.
func (q *workQueue) start(id uint64, cancel context.CancelFunc) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cancelled[id] {
		delete(q.cancelled, id)
		return false
	}
	q.running, q.cancel = id, cancel
	return true
}

func (q *workQueue) finish() {
	q.mu.Lock()
	q.running, q.cancel = 0, nil
	q.mu.Unlock()
}

func (q *workQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.calls) == 0
}
