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
			w.call.Store(c.ID)
			w.later() // says the call is running if it runs long
			value, err = run(tctx, timeout, c.wireCall)
			w.call.Store(0)
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
		if w.sendResult(c.ID, value, err, q.empty()) != nil {
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
// a failure or the end comes, and by the flush timer within a millisecond,
// which also says which element is running (see workerOut): the pool
// times elements from their answers, and blames a worker's death on the
// element it was running. It fails only if the pool is gone.
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
	cr := &chunkRun{id: c.ID, b: b, n: n}
	w.mu.Lock()
	w.chunk = cr
	w.mu.Unlock()
	for i := range n {
		w.later() // frames the elements run so far, and says this one runs, if it runs long
		err := cctx.Err()
		if err == nil {
			err = runElement(cctx, timeout, b, i)
		}
		if err == nil {
			cr.ran.Store(int64(i + 1))
			if cr.owedBy(i) {
				if err := w.answerOwed(cr, i); err != nil {
					return err
				}
			}
			continue
		}
		w.mu.Lock()
		var sendErr error
		cr.framed, sendErr = w.appendValuesLocked(cr.id, b, cr.framed, i)
		if sendErr == nil {
			sendErr = writeFrame(w.w, &message{Type: msgResult, ID: cr.id, Error: crew.ToRemote(err)})
			cr.framed = i + 1
		}
		cr.ran.Store(int64(i + 1))
		if sendErr == nil && cr.owedBy(i) {
			sendErr = w.flushLocked()
			cr.owed.Store(0)
		}
		w.mu.Unlock()
		if sendErr != nil {
			return sendErr
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.chunk = nil
	cr.framed, err = w.appendValuesLocked(cr.id, b, cr.framed, n)
	if err == nil {
		// A chunk's answers go at once, even if more work is queued: the
		// pool sends the next chunk when it has them.
		err = w.flushLocked()
	}
	return err
}

// chunkRun is the state of the chunk a worker runs, shared with the flush
// timer.
type chunkRun struct {
	id     uint64
	b      crew.EncodedBatch
	n      int
	framed int          // elements answered in frames; guarded by workerOut.mu
	ran    atomic.Int64 // elements run
	owed   atomic.Int64 // 1 + the element a running frame named; 0 if none
}

// owedBy reports whether a running frame named element i or an earlier
// one, whose end must then be sent at once.
func (c *chunkRun) owedBy(i int) bool {
	o := c.owed.Load()
	return o != 0 && o-1 <= int64(i)
}

// answerOwed sends the answers up to element i, which ended after a
// running frame named it.
func (o *workerOut) answerOwed(c *chunkRun, i int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !c.owedBy(i) {
		return nil // the flush timer named a later element meanwhile, and sent this one
	}
	c.owed.Store(0)
	var err error
	c.framed, err = o.appendValuesLocked(c.id, c.b, c.framed, i+1)
	if err == nil {
		err = o.flushLocked()
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
// flushed at once goes out within a delay, by a timer armed only then, or
// when a call or chunk element starts: an idle worker never wakes up for
// it, and a busy one once per call that outlasts the delay, which matters
// on a machine whose cores all run tasks.
//
// When the timer finds a call or element running, it also sends a running
// frame naming it, and the answer to that call or element is then sent as
// soon as it ends. So if the worker dies, the pool knows which call it was
// running when the last frame it received says so; otherwise the worker
// may have died with answers of calls run after the last one it sent
// still buffered (within the delay), and the pool cannot tell which call
// killed it. Sending a frame as every call starts would tell it always,
// but at a system call per tiny task.
type workerOut struct {
	mu       sync.Mutex
	w        *bufio.Writer
	vals     []byte    // a values frame's array
	buf      []byte    // a values or result frame
	chunk    *chunkRun // the chunk running, if any
	owedCall uint64    // a running frame named this call: send its result at once

	call atomic.Uint64 // the call running, if any (0); chunks are in chunk

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
// is sent within the delay, with a running frame if a call or element is
// running then.
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

// sendResult buffers the result of call id — its value, or err — and
// sends it now if flush is set or a running frame named the call.
func (o *workerOut) sendResult(id uint64, value []byte, err error, flush bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		err = writeFrame(o.w, &message{Type: msgResult, ID: id, Error: crew.ToRemote(err)})
	} else {
		o.buf = appendValueResult(o.buf[:0], id, value)
		err = writeRaw(o.w, o.buf)
	}
	if err != nil {
		return err
	}
	if flush || o.owedCall == id {
		o.owedCall = 0
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
// buffered, and a running frame if a call or chunk element is running.
func (o *workerOut) flush() {
	o.armed.Store(false)
	o.mu.Lock()
	defer o.mu.Unlock()
	if c := o.chunk; c != nil {
		var err error
		c.framed, err = o.appendValuesLocked(c.id, c.b, c.framed, int(c.ran.Load()))
		if err == nil && c.framed < c.n && o.runningLocked(c.id) == nil {
			c.owed.Store(int64(c.framed) + 1)
		}
	} else if id := o.call.Load(); id != 0 && o.runningLocked(id) == nil {
		o.owedCall = id
	}
	o.w.Flush()
}

// runningLocked writes a running frame for call or chunk id.
func (o *workerOut) runningLocked(id uint64) error {
	o.buf = appendRunning(o.buf[:0], id)
	return writeRaw(o.w, o.buf)
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
