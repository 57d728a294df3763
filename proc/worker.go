package proc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crewrun/crew"
)

// envWorker tells a re-executed binary that it is a worker; envProcs, if
// set, is the GOMAXPROCS its Go runtime should use.
const (
	envWorker = "CREW_PROC_WORKER"
	envProcs  = "CREW_PROC_GOMAXPROCS"
)

// ServeIfWorker makes the program a worker when the pool started it as
// one: call it first in main, and in TestMain for tests that use the pool.
// In the parent it returns at once; in a worker process it serves tasks
// and exits, never returning. It has no effect otherwise: the decision is
// the environment variable the pool sets.
func ServeIfWorker() {
	if os.Getenv(envWorker) == "" {
		return
	}
	if n, err := strconv.Atoi(os.Getenv(envProcs)); err == nil && n > 0 {
		runtime.GOMAXPROCS(n)
	}
	// Programs the tasks start are neither workers nor limited.
	os.Unsetenv(envWorker)
	os.Unsetenv(envProcs)
	os.Exit(serve(protocolFile(3, "crew-from-pool"), protocolFile(4, "crew-to-pool")))
}

// serve runs the worker side of the protocol until the pool closes its
// input, and returns the exit status.
func serve(in io.Reader, out io.Writer) int {
	// The protocol has its own descriptors; whatever tasks print on
	// standard output goes to standard error, which the pool forwards.
	stdoutToStderr()

	r := bufio.NewReaderSize(in, 64<<10)
	w := newWorkerOut(out, time.Millisecond)
	defer w.stop()
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
		if c.chunk {
			if runChunk(worker.Context(ctx), timeout, q, w, c) != nil {
				return 1 // the pool is gone
			}
			continue
		}
		tctx, cancel := context.WithCancel(worker.Context(ctx))
		var value []byte
		var err error
		if q.start(c.ID, cancel) {
			value, err = run(tctx, timeout, c.wireCall)
			q.finish()
		} else {
			// Cancelled while queued. Every call still gets a result, in
			// order: the pool matches results to calls by position.
			err = context.Canceled
		}
		cancel()
		// Flush when nothing else is queued; otherwise results travel in
		// batches, and the flush timer sends them within a millisecond even
		// if the next task runs long.
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
	return v, timedOut(ctx, tctx, timeout, err)
}

// timedOut marks err as a timeout if tctx, made from ctx with the
// timeout, expired.
func timedOut(ctx, tctx context.Context, timeout time.Duration, err error) error {
	if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) && !errors.Is(err, crew.ErrTimeout) {
		err = fmt.Errorf("%w after %v: %w", crew.ErrTimeout, timeout, err)
	}
	return err
}

// runChunk runs a chunk's elements in order and answers each: successes
// in values frames, failures in result frames. Successes are framed when
// a failure or the end comes, and by the flush timer within a millisecond, so
// that the pool sees which element is running (for its timeout and for a
// worker that dies). It fails only if the pool is gone.
func runChunk(ctx context.Context, timeout time.Duration, q *workQueue, w *workerOut, c work) error {
	b, err := crew.DecodeBatch(c.Task, c.Args)
	if err != nil {
		var elems []json.RawMessage
		if json.Unmarshal(c.Args, &elems) != nil {
			elems = make([]json.RawMessage, 1) // unreadable: one answer, which the pool cannot match, ends this worker
		}
		for range elems {
			if err := w.send(&message{Type: msgResult, ID: c.ID, Error: crew.ToRemote(err)}, false); err != nil {
				return err
			}
		}
		return w.flushIf(q.empty())
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !q.start(c.ID, cancel) {
		cancel() // cancelled while queued: every element still gets an answer
	}
	defer q.finish()
	n := b.Len()
	var ran atomic.Int64 // elements run, whose results can be framed
	w.mu.Lock()
	framed := 0 // elements answered; guarded by w.mu
	w.progress = func() error {
		var err error
		framed, err = w.appendValuesLocked(c.ID, b, framed, int(ran.Load()))
		return err
	}
	w.mu.Unlock()
	for i := range n {
		err := cctx.Err()
		if err == nil {
			err = runElement(cctx, timeout, b, i)
		}
		if err == nil {
			ran.Store(int64(i + 1))
			w.later()
			continue
		}
		w.mu.Lock()
		var sendErr error
		framed, sendErr = w.appendValuesLocked(c.ID, b, framed, i)
		if sendErr == nil {
			sendErr = writeFrame(w.w, &message{Type: msgResult, ID: c.ID, Error: crew.ToRemote(err)})
			framed = i + 1
		}
		ran.Store(int64(i + 1))
		w.mu.Unlock()
		if sendErr != nil {
			return sendErr
		}
		w.later()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.progress = nil
	framed, err = w.appendValuesLocked(c.ID, b, framed, n)
	if err == nil {
		// A chunk's answers go at once, even if more work is queued: the
		// pool sends the next chunk when it has them.
		err = w.flushLocked()
	}
	return err
}

func runElement(ctx context.Context, timeout time.Duration, b crew.EncodedBatch, i int) error {
	if timeout <= 0 {
		return b.Run(ctx, i)
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return timedOut(ctx, tctx, timeout, b.Run(tctx, i))
}

// workerOut buffers the frames a worker sends. What is buffered and not
// flushed at once goes out within a delay, by a timer armed only then: an
// idle or busy worker with nothing to report never wakes up for it, which
// matters on a machine whose cores all run tasks.
type workerOut struct {
	mu       sync.Mutex
	w        *bufio.Writer
	vals     []byte       // a values frame's array
	buf      []byte       // a values frame
	progress func() error // frames the running chunk's finished elements

	delay time.Duration
	timer *time.Timer
	armed atomic.Bool // the timer will flush
}

func newWorkerOut(out io.Writer, delay time.Duration) *workerOut {
	o := &workerOut{w: bufio.NewWriterSize(out, 64<<10), delay: delay}
	o.timer = time.AfterFunc(time.Hour, o.flush)
	o.timer.Stop()
	return o
}

// later makes sure what is buffered now, and the running chunk's progress,
// is sent within the delay.
func (o *workerOut) later() {
	if o.armed.CompareAndSwap(false, true) {
		o.timer.Reset(o.delay)
	}
}

// stop stops the flush timer.
func (o *workerOut) stop() { o.timer.Stop() }

// flushedLocked disarms the flush timer after everything buffered was
// sent: what is written later arms it again.
func (o *workerOut) flushedLocked() {
	if o.armed.CompareAndSwap(true, false) {
		o.timer.Stop()
	}
}

// flushLocked sends everything buffered now.
func (o *workerOut) flushLocked() error {
	err := o.w.Flush()
	o.flushedLocked()
	return err
}

func (o *workerOut) appendValuesLocked(id uint64, b crew.EncodedBatch, from, to int) (int, error) {
	if from >= to {
		return from, nil
	}
	vals, err := b.AppendResults(o.vals[:0], from, to)
	if err == nil {
		o.vals = vals
		o.buf = appendValues(o.buf[:0], id, vals)
		return to, writeRaw(o.w, o.buf)
	}
	if to-from > 1 {
		for i := from; i < to; i++ {
			if _, err := o.appendValuesLocked(id, b, i, i+1); err != nil {
				return i, err
			}
		}
		return to, nil
	}
	return to, writeFrame(o.w, &message{Type: msgResult, ID: id, Error: crew.ToRemote(err)})
}

func (o *workerOut) flushIf(flush bool) error {
	if !flush {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.flushLocked()
}

func (o *workerOut) sendRaw(b []byte, flush bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := writeRaw(o.w, b); err != nil {
		return err
	}
	if flush {
		return o.flushLocked()
	}
	o.later()
	return nil
}

func (o *workerOut) send(m *message, flush bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := writeFrame(o.w, m); err != nil {
		return err
	}
	if flush {
		return o.flushLocked()
	}
	o.later()
	return nil
}

// flush frames the running chunk's progress and sends everything
// buffered.
func (o *workerOut) flush() {
	o.armed.Store(false)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.progress != nil {
		o.progress()
	}
	o.w.Flush()
}

// workQueue holds the calls a worker received and not yet ran; its reader
// goroutine also handles cancellations while a task runs.
type workQueue struct {
	mu        sync.Mutex
	cond      *sync.Cond
	calls     []work
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
			for _, c := range m.Calls {
				q.calls = append(q.calls, work{wireCall: c})
			}
		case m.Type == msgChunk:
			q.calls = append(q.calls, work{wireCall: wireCall{ID: m.ID, Task: m.Task}, chunk: true, Args: m.Args})
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

// work is a call or, with chunk set, a chunk: the task over Args.
type work struct {
	wireCall
	chunk bool
	Args  json.RawMessage
}

func (q *workQueue) next() (work, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.calls) == 0 && !q.eof {
		q.cond.Wait()
	}
	if len(q.calls) == 0 {
		return work{}, false
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
