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

	"github.com/crewrun/crew/executor"
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
	if !inWorker() {
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

// inWorker reports whether a pool started this process as a worker and
// ServeIfWorker has not taken over yet.
func inWorker() bool { return os.Getenv(envWorker) != "" }

// notServing is New's error in a worker process: main runs, so it did not
// call ServeIfWorker first, and each worker would start a pool of its
// own. The parent is told at once, through the protocol descriptor, so
// that its New fails with the same message instead of waiting.
func notServing() error {
	err := errors.New("proc: proc.New called in a worker process: the program must call proc.ServeIfWorker() first in main (and in TestMain), before anything else, so that a worker serves tasks instead of running main")
	out := bufio.NewWriter(protocolFile(4, "crew-to-pool"))
	if writeFrame(out, &message{Type: msgInitFail, Error: &executor.RemoteError{Message: err.Error()}}) == nil {
		out.Flush()
	}
	return err
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
	if w.send(&message{Type: msgHello, Version: protocolVersion, PID: os.Getpid()}, true) != nil {
		return 1
	}
	var hello message
	if err := readFrame(r, &hello); err != nil || hello.Type != msgHello {
		fmt.Fprintf(os.Stderr, "crew worker: no hello from the pool: %v\n", err)
		return 2
	}
	if hello.Version != protocolVersion {
		fmt.Fprintf(os.Stderr, "crew worker: the pool speaks protocol version %d, this worker %d\n", hello.Version, protocolVersion)
		return 2
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	worker, err := executor.NewWorker(ctx, hello.Inits)
	if err != nil {
		w.send(&message{Type: msgInitFail, Error: executor.ToRemote(err)}, true)
		return 3
	}
	defer worker.Close()
	w.send(&message{Type: msgReady, PID: os.Getpid()}, true)

	// The pool kills a worker whose task overruns Timeout: no grace here.
	policy := executor.Policy{
		Timeout: time.Duration(hello.TimeoutMS) * time.Millisecond,
		Retries: hello.Retries,
		Backoff: time.Duration(hello.BackoffMS) * time.Millisecond,
	}
	q := &workQueue{cancelled: map[uint64]bool{}}
	q.cond = sync.NewCond(&q.mu)
	go q.read(r)
	for {
		c, ok := q.next()
		if !ok {
			w.flush()
			return 0
		}
		if runChunk(worker.Context(ctx), policy, q, w, c) != nil {
			return 1 // the pool is gone
		}
	}
}

// runChunk runs a chunk's elements in order, each under the attempt
// policy, and answers each: successes in values frames, failures in
// result frames. Successes are framed when a failure or the end comes,
// and by the flush timer within a millisecond, which also says which
// element is running (see workerOut): the pool times elements from their
// answers, and blames a worker's death on the element it was running. A
// retry is announced in a retry frame. It fails only if the pool is gone.
func runChunk(ctx context.Context, policy executor.Policy, q *workQueue, w *workerOut, c *message) error {
	var d executor.Decoded
	task, err := executor.Lookup(c.Task)
	if err == nil {
		d, err = task.Decode(c.Args)
	}
	if err != nil {
		var elems []json.RawMessage
		if json.Unmarshal(c.Args, &elems) != nil {
			elems = make([]json.RawMessage, 1) // unreadable: one answer, which the pool cannot match, ends this worker
		}
		for range elems {
			if err := w.send(&message{Type: msgResult, ID: c.ID, Error: executor.ToRemote(err)}, false); err != nil {
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
	n := d.Len()
	cr := &chunkRun{id: c.ID, d: d, n: n}
	w.mu.Lock()
	w.chunk = cr
	w.mu.Unlock()
	first, i := max(1, c.Attempt), 0
	if policy.Retries > 0 {
		policy.BeforeRetry = func(attempt int, delay time.Duration) { w.retry(cr, i, attempt, delay) }
	}
	for ; i < n; i++ {
		w.later() // frames the elements run so far, and says this one runs, if it runs long
		err := cctx.Err()
		if err == nil {
			err = policy.RunFrom(cctx, d, i, first)
			first = 1
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
		cr.framed, sendErr = w.appendValuesLocked(cr.id, d, cr.framed, i)
		if sendErr == nil {
			sendErr = writeFrame(w.w, &message{Type: msgResult, ID: cr.id, Error: executor.ToRemote(err)})
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
	cr.framed, err = w.appendValuesLocked(cr.id, d, cr.framed, n)
	switch {
	case err != nil:
	case n > 1 || q.empty():
		// A chunk's answers go at once, even if more work is queued: the
		// pool sends the next chunk when it has them.
		err = w.flushLocked()
	default:
		// One element (a Submit) with more queued behind it: its answer
		// travels with theirs, within the flush delay — not a write per
		// call.
		w.later()
	}
	return err
}

// chunkRun is the state of the chunk a worker runs, shared with the flush
// timer.
type chunkRun struct {
	id     uint64
	d      executor.Decoded
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

// workQueue holds the chunks a worker received and not yet ran; its
// reader goroutine also handles cancellations while a task runs.
type workQueue struct {
	mu        sync.Mutex
	cond      *sync.Cond
	chunks    []*message
	eof       bool
	running   uint64
	cancel    context.CancelFunc
	cancelled map[uint64]bool
}

func (q *workQueue) read(r *bufio.Reader) {
	for {
		m := new(message)
		err := readFrame(r, m)
		q.mu.Lock()
		switch {
		case err != nil:
			q.eof = true
		case m.Type == msgChunk:
			q.chunks = append(q.chunks, m)
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

func (q *workQueue) next() (*message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.chunks) == 0 && !q.eof {
		q.cond.Wait()
	}
	if len(q.chunks) == 0 {
		return nil, false
	}
	c := q.chunks[0]
	q.chunks[0] = nil
	q.chunks = q.chunks[1:]
	return c, true
}

// start records chunk id as running, unless it was cancelled while
// queued.
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
	return len(q.chunks) == 0
}
