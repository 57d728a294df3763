package proc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crewrun/crew"
)

type maxTasksKey struct{}
type commandKey struct{}
type stderrKey struct{}

// MaxTasksPerWorker recycles a worker process after it has run n tasks
// (Python: maxtasksperchild), for tasks that leak memory or handles.
func MaxTasksPerWorker(n int) crew.Option {
	return func(c *crew.Config) error {
		if n < 1 {
			return fmt.Errorf("%w: MaxTasksPerWorker(%d): need at least 1", crew.ErrInvalidOption, n)
		}
		return crew.Custom(maxTasksKey{}, n)(c)
	}
}

// Command starts workers with argv instead of re-executing this binary:
// a worker written in another language that speaks docs/protocol.md, for
// example. The pool sets CREW_PROC_WORKER=1 in its environment.
func Command(argv ...string) crew.Option {
	return func(c *crew.Config) error {
		if len(argv) == 0 {
			return fmt.Errorf("%w: Command(): empty", crew.ErrInvalidOption)
		}
		return crew.Custom(commandKey{}, slices.Clone(argv))(c)
	}
}

// Stderr sends the workers' standard error (and output), each line
// prefixed with "[worker N] ", to w instead of the parent's stderr.
func Stderr(w io.Writer) crew.Option { return crew.Custom(stderrKey{}, w) }

// New starts a pool of crew.Workers(n) worker processes (default
// runtime.NumCPU()) and returns it once every worker has built its
// initializers. Workers run the current executable (os.Executable) again,
// so main must call ServeIfWorker first.
//
// A worker that dies — killed, os.Exit, a crash outside the task's
// recover, out of memory — fails only the call it was running, with an
// error wrapping crew.ErrWorkerDied and its exit status (or retries it
// under crew.Retries); its queued calls go to other workers and a
// replacement starts. Under crew.Timeout, a worker whose call overruns
// the timeout by a grace period is killed and the call fails with
// crew.ErrTimeout. Workers exit when the parent dies.
//
// Each worker runs one task at a time, so unless the environment sets
// GOMAXPROCS, a worker's Go runtime gets an equal share of this process's
// processors: runtime.GOMAXPROCS(max(1, runtime.GOMAXPROCS(0)/n)). With
// one worker per core, a worker's runtime then runs Go code on one thread
// at a time and does not take a core from another worker's task. Programs
// the tasks start are not affected.
func New(opts ...crew.Option) (crew.Executor, error) {
	cfg, err := crew.NewConfig(opts...)
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, stderr: io.Writer(os.Stderr), backoff: map[*job]*time.Timer{}}
	p.cond = sync.NewCond(&p.mu)
	if v, ok := cfg.Custom(maxTasksKey{}); ok {
		p.maxTasks = v.(int)
	}
	if v, ok := cfg.Custom(stderrKey{}); ok {
		p.stderr = v.(io.Writer)
	}
	if v, ok := cfg.Custom(commandKey{}); ok {
		p.argv = v.([]string)
	} else {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("proc: %w", err)
		}
		p.argv = []string{exe}
	}
	p.grace = min(100*time.Millisecond+cfg.Timeout/10, 2*time.Second)
	p.env = workerEnv(os.Environ(), runtime.GOMAXPROCS(0), cfg.Workers)

	type started struct {
		w   *procWorker
		err error
	}
	ch := make(chan started, cfg.Workers)
	for range cfg.Workers {
		go func() {
			w, err := p.startWorker()
			ch <- started{w, err}
		}()
	}
	var errs []error
	var ws []*procWorker
	for range cfg.Workers {
		s := <-ch
		if s.err != nil {
			errs = append(errs, s.err)
		} else {
			ws = append(ws, s.w)
		}
	}
	if len(errs) > 0 {
		for _, w := range ws {
			w.reap() // they never joined the pool: nothing reads their pipes
		}
		p.Close()
		return nil, errors.Join(errs...)
	}
	p.mu.Lock()
	for _, w := range ws {
		p.launch(w)
	}
	p.mu.Unlock()
	if cfg.Timeout > 0 {
		p.wg.Add(1)
		go p.watchdog()
	}
	return p, nil
}

// Pool is the process executor New returns. It is a crew.BatchExecutor:
// crew.Map hands it chunks of inputs, which it cuts into frames of about
// two milliseconds of a worker's measured work — one call at first, up
// to thousands for tiny tasks. A worker that dies in the middle of a
// chunk fails (or retries) only the element it was running; the rest of
// the chunk goes to the other workers. If it died too soon after
// starting that element (or call) to have said so — within about a
// millisecond, perhaps with the answers of elements it had just finished
// still unsent — every element and call it had not answered runs again,
// each alone on a worker, and only one that kills its worker then fails.
// So near a worker's death calls run at least once, not exactly once: one
// that finished just before, its answer unsent, runs again whatever
// crew.Retries says. Tasks with side effects should tolerate that.
type Pool struct {
	cfg      crew.Config
	maxTasks int
	argv     []string
	env      []string // the workers' environment
	stderr   io.Writer
	grace    time.Duration

	mu          sync.Mutex
	cond        *sync.Cond // queue, workers or outstanding changed
	queue       []*job     // waiting for a worker; cancelled jobs are skipped
	queued      int        // calls in queue, a chunk counting its elements
	workers     []*procWorker
	starting    int // replacements being started
	closed      bool
	outstanding int // jobs accepted, not completed
	nextWorker  int
	nextCall    uint64
	lastErr     error // why the last replacement failed to start
	// backoff holds the calls waiting out the delay before a retry, with
	// their timers: they are outstanding, yet in no queue.
	backoff map[*job]*time.Timer
	wg      sync.WaitGroup
}

// job is what the pool queues and sends: one call, or a chunk — elements
// [from, to) of a batch, sent as one frame and answered element by
// element, from first.
type job struct {
	c        crew.Call // a single call; nil for a chunk
	b        *batch    // a chunk's batch
	from, to int32     // 32 bits keep a job in a small allocation size class
	id       uint64    // a chunk's id is new each time it is sent
	arg      []byte
	retries  int32       // retries used
	done     bool        // completed (perhaps by cancellation) while still somewhere
	claimed  bool        // a result is being decoded: cancellation leaves it alone
	started  bool        // counted as started for progress
	alone    bool        // sent to an idle worker, and nothing with it: see workerDied
	stop     func() bool // a single call's cancellation callback
}

// size returns how many calls j holds.
func (j *job) size() int {
	if j.b != nil {
		return int(j.to - j.from)
	}
	return 1
}

// batch is one ExecBatch; the chunk jobs split from it share it.
type batch struct {
	b    crew.Batch
	left int         // elements neither completed nor handed to a single-call job
	stop func() bool // unregisters the cancellation callback
}

type procWorker struct {
	id         int
	cmd        *exec.Cmd
	toWorker   *os.File
	fromWorker *os.File   // read through from; closed when the worker is gone
	wmu        sync.Mutex // guards out: batches and cancellations
	out        *bufio.Writer
	from       *bufio.Reader
	inflight   []*job    // sent, results pending, in order
	pending    int       // calls in inflight, a chunk counting its unanswered elements
	head       time.Time // when the call being answered started, as far as the pool knows
	avg        time.Duration
	ran        int
	retiring   bool // no more calls: MaxTasksPerWorker reached
	running    bool // the worker said it is running the head call (a running frame)
	dead       bool
	timedOut   bool
	exited     chan struct{}
}

// Exec queues c for the next free worker.
func (p *Pool) Exec(c crew.Call) error {
	arg, err := c.EncodeArg()
	if err != nil {
		return err
	}
	p.cfg.Progress.Submitted() // before a worker can finish it
	p.mu.Lock()
	if err := p.refuseLocked(); err != nil {
		p.mu.Unlock()
		p.cfg.Progress.Withdrawn()
		return err
	}
	p.nextCall++
	j := &job{c: c, id: p.nextCall, arg: arg}
	p.enqueueLocked(j)
	p.outstanding++
	// Set while locked: the callback runs on its own goroutine and waits
	// for the lock, and readers of j.stop hold it too.
	j.stop = context.AfterFunc(c.Context(), func() { p.cancel(j) })
	p.mu.Unlock()
	return nil
}

// ExecBatch queues b as one chunk; workers take it in pieces sized to
// their speed: a single call first, then about two milliseconds of work.
func (p *Pool) ExecBatch(b crew.Batch) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	p.progress(n, p.cfg.Progress.Submitted)
	p.mu.Lock()
	if err := p.refuseLocked(); err != nil {
		p.mu.Unlock()
		p.progress(n, p.cfg.Progress.Withdrawn)
		return err
	}
	bs := &batch{b: b, left: n}
	for from := 0; from < n; from += math.MaxInt32 { // job ranges are 32-bit
		p.enqueueLocked(&job{b: bs, from: int32(from), to: int32(min(n, from+math.MaxInt32))})
		p.outstanding++
	}
	bs.stop = context.AfterFunc(b.Context(), func() { p.cancelBatch(bs) })
	p.mu.Unlock()
	return nil
}

// progress calls f n times, if progress is tracked at all.
func (p *Pool) progress(n int, f func()) {
	if p.cfg.Progress != nil {
		for range n {
			f()
		}
	}
}

// refuseLocked returns why the pool takes no calls, or nil.
func (p *Pool) refuseLocked() error {
	if p.closed {
		return crew.ErrClosed
	}
	if len(p.workers) == 0 && p.starting == 0 && p.lastErr != nil {
		return fmt.Errorf("%w: no worker could be started: %w", crew.ErrWorkerDied, p.lastErr)
	}
	return nil
}

func (p *Pool) enqueueLocked(j *job) {
	p.queue = append(p.queue, j)
	p.queued += j.size()
	p.cond.Broadcast()
}

// requeueLocked puts jobs back at the front of the queue.
func (p *Pool) requeueLocked(jobs []*job) {
	for _, j := range jobs {
		p.queued += j.size()
	}
	p.queue = append(jobs, p.queue...)
	p.cond.Broadcast()
}

// cancel completes j with its context's error; a running call is told to
// stop, and its late result is dropped.
func (p *Pool) cancel(j *job) {
	p.mu.Lock()
	if j.done || j.claimed {
		p.mu.Unlock()
		return
	}
	var tell *procWorker
	for _, w := range p.workers {
		if slices.Contains(w.inflight, j) {
			tell = w
		}
	}
	p.finishLocked(j)
	p.mu.Unlock()
	if tell != nil {
		tell.send(&message{Type: msgCancel, ID: j.id})
	}
	err := j.c.Context().Err()
	p.cfg.Progress.Finished(j.started, err)
	j.c.Complete(err)
}

// cancelBatch completes every element of bs still waiting or running
// with its context's error, and tells the workers running them to stop.
func (p *Pool) cancelBatch(bs *batch) {
	err := bs.b.Context().Err()
	type told struct {
		w  *procWorker
		id uint64
	}
	var tell []told
	var ended []job // copies: the ranges to complete
	p.mu.Lock()
	end := func(j *job) {
		ended = append(ended, *j)
		p.settleLocked(bs, j.size())
		p.finishLocked(j)
	}
	for _, j := range p.queue {
		if j.b == bs && !j.done {
			end(j)
		}
	}
	for _, w := range p.workers {
		for _, j := range w.inflight {
			if j.b == bs && !j.done && !j.claimed {
				end(j)
				tell = append(tell, told{w, j.id})
			}
		}
	}
	p.mu.Unlock()
	for _, t := range tell {
		t.w.send(&message{Type: msgCancel, ID: t.id})
	}
	for _, j := range ended {
		p.progress(j.size(), func() { p.cfg.Progress.Finished(j.started, err) })
		bs.b.Complete(int(j.from), int(j.to), err)
	}
}

// settleLocked records k elements of bs completed (or handed on).
func (p *Pool) settleLocked(bs *batch, k int) {
	bs.left -= k
	if bs.left == 0 && bs.stop != nil {
		bs.stop()
	}
}

// finishLocked marks j done and counts it out; the caller completes it.
func (p *Pool) finishLocked(j *job) {
	if len(p.backoff) > 0 {
		if t, ok := p.backoff[j]; ok { // cancelled while waiting to be retried
			t.Stop()
			delete(p.backoff, j)
		}
	}
	j.done = true
	p.outstanding--
	p.cond.Broadcast()
}

// Close stops accepting calls, waits for every accepted call to complete,
// and shuts the workers down.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	for p.outstanding > 0 {
		p.cond.Wait()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *Pool) startWorker() (*procWorker, error) {
	p.mu.Lock()
	p.nextWorker++
	id := p.nextWorker
	p.mu.Unlock()
	childIn, toWorker, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("proc: %w", err)
	}
	fromWorker, childOut, err := os.Pipe()
	if err != nil {
		childIn.Close()
		toWorker.Close()
		return nil, fmt.Errorf("proc: %w", err)
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = p.env
	cmd.ExtraFiles = []*os.File{childIn, childOut}
	cmd.Stdout = &prefixWriter{w: p.stderr, prefix: fmt.Sprintf("[worker %d] ", id)}
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = outputDelay
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	childIn.Close()
	childOut.Close()
	if err != nil {
		toWorker.Close()
		fromWorker.Close()
		return nil, fmt.Errorf("proc: start worker: %w", err)
	}
	w := &procWorker{
		id: id, cmd: cmd, toWorker: toWorker, fromWorker: fromWorker,
		out:    bufio.NewWriterSize(toWorker, 64<<10),
		from:   bufio.NewReaderSize(fromWorker, 64<<10),
		exited: make(chan struct{}),
	}
	fail := func(err error) (*procWorker, error) {
		werr := w.reap()
		return nil, fmt.Errorf("proc: worker %d did not start (%v): %w", id, werr, err)
	}
	hello := &message{Type: msgHello, Inits: p.cfg.Inits, TimeoutMS: p.cfg.Timeout.Milliseconds()}
	if p.cfg.Timeout > 0 && hello.TimeoutMS == 0 {
		hello.TimeoutMS = 1
	}
	if err := writeFrame(w.out, hello); err != nil {
		return fail(err)
	}
	if err := w.out.Flush(); err != nil {
		return fail(err)
	}
	var m message
	if err := readFrame(w.from, &m); err != nil {
		return fail(err)
	}
	switch m.Type {
	case msgReady:
		return w, nil
	case msgInitFail:
		return fail(m.Error.Err())
	default:
		return fail(fmt.Errorf("unexpected %q message", m.Type))
	}
}

// outputDelay bounds how long a worker's end waits for its output pipe to
// close after the worker exited. Programs a task started inherit the
// worker's standard error, and one still running keeps the pipe open: the
// worker's end — and a call failing because its worker timed out — would
// otherwise wait for that program to exit. What it writes later is lost.
const outputDelay = time.Second

// workerEnv returns the environment of a pool of n workers started from
// a process with procs processors: env with the worker marker and, unless
// env sets GOMAXPROCS, the workers' share of the processors in envProcs,
// which the worker applies to its own runtime only (a GOMAXPROCS variable
// would reach every program a task starts).
func workerEnv(env []string, procs, n int) []string {
	env = append(slices.Clip(env), envWorker+"=1")
	for _, kv := range env {
		if strings.HasPrefix(kv, "GOMAXPROCS=") {
			return env
		}
	}
	return append(env, envProcs+"="+strconv.Itoa(max(1, procs/max(1, n))))
}

// launch adds a started worker to the pool and runs its goroutines.
func (p *Pool) launch(w *procWorker) {
	p.workers = append(p.workers, w)
	p.wg.Add(2)
	go p.feed(w)
	go p.read(w)
}

// maxBatch bounds the calls sent to a worker at once.
const maxBatch = 1024

// batchFor returns how many queued calls w should take now: enough for
// about two milliseconds of its work (targetFor), and no more than its
// share of the queue, so that tiny tasks travel in batches and long ones
// spread out.
func (p *Pool) batchFor(w *procWorker) int {
	share := (p.queued + len(p.workers) - 1) / max(1, len(p.workers))
	return max(1, min(p.targetFor(w), share, p.quota(w)))
}

// targetFor returns how many calls make about two milliseconds of w's
// work, as measured so far: 1 while nothing is known.
func (p *Pool) targetFor(w *procWorker) int {
	if w.avg == 0 {
		return 1 // a probe: nothing is known yet about how long calls take
	}
	return max(1, min(int(2*time.Millisecond/w.avg), maxBatch))
}

// quota is how many more calls w may be given before MaxTasksPerWorker
// retires it.
func (p *Pool) quota(w *procWorker) int {
	if p.maxTasks == 0 {
		return 1 << 30
	}
	return p.maxTasks - w.ran - w.pending
}

func (p *Pool) feed(w *procWorker) {
	defer p.wg.Done()
	var buf []byte
	for {
		p.mu.Lock()
		for {
			if w.dead {
				p.mu.Unlock()
				return
			}
			// After Close, an idle worker goes once nothing is queued
			// and no call waits to be retried.
			idle := w.pending == 0
			if (p.closed && len(p.queue) == 0 && len(p.backoff) == 0 && idle) || (w.retiring && idle) {
				p.mu.Unlock()
				w.toWorker.Close() // the worker finishes and exits on EOF
				return
			}
			// Calls a worker may hold: tiny ones in two batches; longer
			// ones one running and one queued behind it while there is
			// plenty of work — so that the worker never waits for the
			// pool, which on a busy machine may be scheduled late — and
			// one at a time near the end, so that the last calls spread
			// over all workers.
			limit := 1
			switch {
			case w.avg > 0 && w.avg < time.Millisecond:
				limit = 2 * p.batchFor(w)
			case w.avg > 0 && p.queued >= len(p.workers):
				limit = 2
			}
			if len(p.queue) > 0 && !w.retiring && p.quota(w) > 0 && w.pending < max(limit, 1) && p.aloneAllowsLocked(w) {
				break
			}
			p.cond.Wait()
		}
		sent := p.takeLocked(p.batchFor(w))
		if len(sent) == 0 {
			p.mu.Unlock()
			continue
		}
		if w.pending == 0 {
			w.head = time.Now()
		}
		var starting, count int
		for _, j := range sent {
			if !j.started {
				j.started = true
				starting += j.size()
			}
			count += j.size()
		}
		w.inflight = append(w.inflight, sent...)
		w.pending += count
		p.mu.Unlock()
		p.progress(starting, p.cfg.Progress.Started)
		var unsendable []*job
		buf, unsendable = appendJobs(buf[:0], sent)
		if len(unsendable) > 0 {
			// Taken back before anything is written, so that the worker's
			// answers still match the jobs in flight.
			p.unsendable(w, unsendable)
		}
		if len(buf) == 0 {
			continue
		}
		w.wmu.Lock()
		_, err := w.out.Write(buf)
		if err == nil {
			err = w.out.Flush()
		}
		w.wmu.Unlock()
		if err != nil {
			w.kill() // the reader sees it die and requeues the batch
		}
	}
}

// aloneAllowsLocked reports whether w may take calls, as far as calls
// that go alone are concerned: it holds none, and if one is next in the
// queue, w is idle.
func (p *Pool) aloneAllowsLocked(w *procWorker) bool {
	if len(w.inflight) > 0 && w.inflight[0].alone {
		return false
	}
	// The first call not already done decides: a cancelled one ahead of a
	// call that goes alone would otherwise let a busy worker take it.
	for _, next := range p.queue {
		if !next.done {
			return !next.alone || w.pending == 0
		}
	}
	return true
}

// takeLocked takes up to n calls from the front of the queue, splitting a
// chunk if it holds more. A call that goes alone is taken only first, and
// then alone.
func (p *Pool) takeLocked(n int) []*job {
	var taken []*job
	for count := 0; count < n && len(p.queue) > 0; {
		j := p.queue[0]
		if j.alone && !j.done && count > 0 {
			break
		}
		if j.b != nil && !j.done && j.size() > n-count {
			part := &job{b: j.b, from: j.from, to: j.from + int32(n-count), started: j.started}
			j.from = part.to
			p.queued -= part.size()
			p.outstanding++
			j = part
		} else {
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.queued -= j.size()
			if j.done {
				continue
			}
		}
		if j.b != nil {
			p.nextCall++
			j.id = p.nextCall
		}
		taken = append(taken, j)
		count += j.size()
		if j.alone {
			break
		}
	}
	return taken
}

// unsendable handles chunks whose arguments did not encode as one array
// (an argument JSON cannot represent, say): each element becomes a single
// call, so that only the culprits fail.
func (p *Pool) unsendable(w *procWorker, jobs []*job) {
	type failure struct {
		c       crew.Call
		err     error
		started bool
	}
	var failed []failure
	p.mu.Lock()
	for _, j := range jobs {
		i := slices.Index(w.inflight, j)
		if i < 0 || j.done {
			continue // the worker died meanwhile and the chunk went back to the queue
		}
		w.inflight = slices.Delete(w.inflight, i, i+1)
		w.pending -= j.size()
		var singles []*job
		for e := int(j.from); e < int(j.to); e++ {
			c := j.b.b.Call(e)
			arg, err := c.EncodeArg()
			if err != nil {
				failed = append(failed, failure{c, err, j.started})
				continue
			}
			p.nextCall++
			s := &job{c: c, id: p.nextCall, arg: arg, started: j.started, alone: j.alone}
			s.stop = context.AfterFunc(c.Context(), func() { p.cancel(s) })
			p.outstanding++
			singles = append(singles, s)
		}
		p.settleLocked(j.b, j.size())
		p.finishLocked(j)
		p.requeueLocked(singles)
	}
	p.mu.Unlock()
	for _, f := range failed {
		p.cfg.Progress.Finished(f.started, f.err)
		f.c.Complete(f.err)
	}
}

func (w *procWorker) send(m *message) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if writeFrame(w.out, m) == nil {
		w.out.Flush()
	}
}

func (w *procWorker) kill() {
	if w.cmd.Process != nil {
		w.cmd.Process.Kill()
	}
}

// reap kills w if it still runs, closes the pool's ends of its pipes and
// waits for it, returning how it ended. Nothing may read its results any
// more: the pipe is closed under the reader, not drained. Without the
// wait the process stays a zombie; without the close its descriptor stays
// open until a garbage collection finalizes the file.
func (w *procWorker) reap() error {
	w.kill()
	w.toWorker.Close()
	w.fromWorker.Close()
	return w.cmd.Wait()
}

func (p *Pool) read(w *procWorker) {
	defer p.wg.Done()
	var buf []byte // reused: a result is decoded before the next frame is read
	var m message  // likewise; readFrameInto clears it
	for {
		var err error
		buf, err = readFrameInto(w.from, buf, &m)
		if err == nil && m.Type == msgRunning {
			p.mu.Lock()
			// Ignored unless about the head: an answer may have overtaken it.
			w.running = len(w.inflight) > 0 && w.inflight[0].id == m.ID
			p.mu.Unlock()
			continue
		}
		if err == nil && m.Type != msgResult && m.Type != msgValues {
			err = fmt.Errorf("proc: unexpected %q message from worker %d", m.Type, w.id)
		}
		if err == nil {
			err = p.answer(w, &m)
		}
		if err != nil {
			p.workerDied(w, err)
			return
		}
	}
}

// answer takes a result or values frame from w; an error means w broke
// the protocol.
func (p *Pool) answer(w *procWorker, m *message) error {
	p.mu.Lock()
	if len(w.inflight) == 0 || w.inflight[0].id != m.ID {
		p.mu.Unlock()
		return fmt.Errorf("proc: worker %d answered call %d out of order", w.id, m.ID)
	}
	j := w.inflight[0]
	if j.b != nil {
		return p.answerChunk(w, j, m)
	}
	if m.Type != msgResult {
		p.mu.Unlock()
		return fmt.Errorf("proc: worker %d sent values for call %d, which is no chunk", w.id, m.ID)
	}
	p.answeredLocked(w, j, 1)
	if j.done {
		p.mu.Unlock()
		return nil // cancelled: the caller already has its answer
	}
	j.claimed = true
	p.mu.Unlock()

	callErr := m.Error.Err()
	if callErr == nil {
		callErr = j.c.DecodeResult(m.Value)
	}
	p.mu.Lock()
	j.claimed = false
	if p.retryLocked(j, callErr) {
		p.mu.Unlock()
		return nil
	}
	p.finishLocked(j)
	p.mu.Unlock()
	j.stop()
	p.cfg.Progress.Finished(true, callErr)
	j.c.Complete(callErr)
	return nil
}

// answerChunk takes the answer for the next elements of chunk j, the
// head of w's calls in flight. It is called with p.mu held and releases it.
func (p *Pool) answerChunk(w *procWorker, j *job, m *message) error {
	from := int(j.from)
	if j.done { // cancelled: count the answers and drop them
		k := 1
		if m.Type == msgValues {
			var vs []json.RawMessage
			if err := json.Unmarshal(m.Values, &vs); err != nil {
				p.mu.Unlock()
				return fmt.Errorf("proc: worker %d: chunk %d: %w", w.id, m.ID, err)
			}
			k = len(vs)
		}
		if k < 1 || k > j.size() {
			p.mu.Unlock()
			return fmt.Errorf("proc: worker %d sent %d answers for the %d left in chunk %d", w.id, k, j.size(), m.ID)
		}
		p.answeredLocked(w, j, k)
		p.mu.Unlock()
		return nil
	}
	if m.Type == msgResult && m.Error != nil {
		callErr := m.Error.Err()
		p.answeredLocked(w, j, 1)
		retried := p.retryElementLocked(j, from, callErr)
		if !retried {
			p.settleLocked(j.b, 1)
		}
		after := p.chunkAnsweredLocked(w, j)
		p.mu.Unlock()
		if !retried {
			p.cfg.Progress.Finished(true, callErr)
			j.b.b.Complete(from, from+1, callErr)
		}
		after()
		return nil
	}
	j.claimed = true
	to := int(j.to)
	p.mu.Unlock()
	values := m.Values
	if m.Type == msgResult {
		values = slices.Concat([]byte("["), m.Value, []byte("]"))
	}
	k, err := j.b.b.DecodeResults(from, to, values)
	if err == nil && k < 1 {
		err = fmt.Errorf("proc: worker %d sent no values for chunk %d", w.id, m.ID)
	}
	p.mu.Lock()
	j.claimed = false
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("proc: worker %d: chunk %d: %w", w.id, m.ID, err)
	}
	p.answeredLocked(w, j, k)
	p.settleLocked(j.b, k)
	after := p.chunkAnsweredLocked(w, j)
	p.mu.Unlock()
	p.progress(k, func() { p.cfg.Progress.Finished(true, nil) })
	j.b.b.Complete(from, from+k, nil)
	after()
	return nil
}

// answeredLocked records k answers for j, the head of w's calls in
// flight, for w's timing and task count; j leaves the head when it has
// no calls left.
func (p *Pool) answeredLocked(w *procWorker, j *job, k int) {
	if j.b != nil {
		j.from += int32(k)
	}
	if j.b == nil || j.from == j.to {
		w.inflight[0] = nil
		w.inflight = w.inflight[1:]
	}
	w.pending -= k
	w.running = false
	now := time.Now()
	if d := now.Sub(w.head) / time.Duration(k); w.avg == 0 {
		w.avg = d
	} else {
		w.avg = (7*w.avg + d) / 8
	}
	w.head = now
	w.ran += k
	if p.maxTasks > 0 && w.ran >= p.maxTasks {
		w.retiring = true // feed closes its input once the last result is in
	}
	p.cond.Broadcast()
}

// chunkAnsweredLocked finishes chunk j once all its elements are
// answered; if its context ended while its answers were being decoded,
// it cancels the rest. The returned function completes what that ended;
// call it after unlocking.
func (p *Pool) chunkAnsweredLocked(w *procWorker, j *job) func() {
	if j.from == j.to {
		p.finishLocked(j)
		return func() {}
	}
	err := j.b.b.Context().Err()
	if err == nil {
		return func() {}
	}
	rest := *j
	p.settleLocked(j.b, j.size())
	p.finishLocked(j)
	return func() {
		w.send(&message{Type: msgCancel, ID: rest.id})
		p.progress(rest.size(), func() { p.cfg.Progress.Finished(true, err) })
		rest.b.b.Complete(int(rest.from), int(rest.to), err)
	}
}

// retryLocked requeues j after a backoff if err deserves a retry.
func (p *Pool) retryLocked(j *job, err error) bool {
	if err == nil || int(j.retries) >= p.cfg.Retries || crew.IsPermanent(err) || j.c.Context().Err() != nil {
		return false
	}
	j.retries++
	p.backoff[j] = time.AfterFunc(p.cfg.RetryDelay(int(j.retries)), func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, ok := p.backoff[j]; ok { // else cancelled meanwhile
			delete(p.backoff, j)
			p.enqueueLocked(j)
			p.ensureWorkerLocked()
		}
	})
	return true
}

// ensureWorkerLocked starts a worker if none is left or starting — after
// a replacement failed to start — so that what was just queued either
// runs or fails with why no worker could start.
func (p *Pool) ensureWorkerLocked() {
	if len(p.workers) > 0 || p.starting > 0 {
		return
	}
	p.starting++
	// Close waits for the work queued, so it cannot be in wg.Wait yet.
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.replace()
	}()
}

// retryElementLocked hands element i of chunk j, which failed with err,
// to a single-call job that retries it, if err deserves a retry.
func (p *Pool) retryElementLocked(j *job, i int, err error) bool {
	if err == nil || p.cfg.Retries == 0 || crew.IsPermanent(err) || j.b.b.Context().Err() != nil {
		return false
	}
	c := j.b.b.Call(i)
	arg, encErr := c.EncodeArg()
	if encErr != nil {
		return false
	}
	p.nextCall++
	s := &job{c: c, id: p.nextCall, arg: arg, started: true}
	p.outstanding++
	s.stop = context.AfterFunc(c.Context(), func() { p.cancel(s) })
	p.settleLocked(j.b, 1)
	return p.retryLocked(s, err)
}

// workerDied handles a worker's end: the call it was running fails (or is
// retried), the calls queued behind it go back to the pool, and a
// replacement starts unless the pool is closed and has no work left.
func (p *Pool) workerDied(w *procWorker, readErr error) {
	waitErr := w.reap()
	close(w.exited)

	p.mu.Lock()
	w.dead = true
	p.workers = slices.DeleteFunc(p.workers, func(x *procWorker) bool { return x == w })
	var failed *job // a copy of the failed call (a chunk: its running element)
	var failErr error
	// The head of the calls in flight — for a chunk, its first element not
	// answered — was running if the worker said so, if the watchdog killed
	// it for overrunning (answers finished since were sent meanwhile), or
	// if nothing else was in flight. Otherwise the worker may have died
	// with answers of calls it finished after the head still buffered, and
	// any call in flight may be the one it was running: each goes back to
	// the queue to run alone on an idle worker, so that a call that kills
	// its worker is known, and fails, and the others succeed.
	known := w.running || w.timedOut || w.pending == 1
	if len(w.inflight) > 0 && !known {
		p.requeueLocked(p.aloneLocked(w.inflight))
		w.inflight, w.pending = nil, 0
	} else if len(w.inflight) > 0 {
		if j := w.inflight[0]; !j.done {
			status := "exited"
			if waitErr != nil {
				status = waitErr.Error()
			} else if readErr != nil && !errors.Is(readErr, io.EOF) {
				status = readErr.Error()
			}
			failErr = fmt.Errorf("%w: worker %d (pid %d): %s", crew.ErrWorkerDied, w.id, w.cmd.Process.Pid, status)
			if w.timedOut {
				failErr = fmt.Errorf("%w after %v: worker %d killed", crew.ErrTimeout, p.cfg.Timeout, w.id)
			}
			if j.b == nil {
				if !p.retryLocked(j, failErr) {
					failed = &job{c: j.c, started: j.started, stop: j.stop}
					p.finishLocked(j)
				}
			} else {
				// The chunk's first unanswered element was running; the
				// rest never started and go back to the queue below.
				i := j.from
				j.from++
				if !p.retryElementLocked(j, int(i), failErr) {
					failed = &job{b: j.b, from: i, to: i + 1, started: j.started}
					p.settleLocked(j.b, 1)
				}
				if j.from == j.to {
					p.finishLocked(j)
				}
			}
		}
		var rest []*job
		for k, j := range w.inflight {
			if !j.done && (k > 0 || j.b != nil) {
				rest = append(rest, j)
			}
		}
		p.requeueLocked(rest)
		w.inflight, w.pending = nil, 0
	}
	// A retired worker is replaced too, even with nothing queued now:
	// calls submitted later, or retried after a backoff, need a worker.
	// After Close only queued calls and retries do; calls running on
	// other workers do not.
	replace := !p.closed || len(p.queue) > 0 || len(p.backoff) > 0
	if replace {
		p.starting++
	}
	p.cond.Broadcast()
	p.mu.Unlock()

	if failed != nil {
		p.cfg.Progress.Finished(failed.started, failErr)
		if failed.b != nil {
			failed.b.b.Complete(int(failed.from), int(failed.to), failErr)
		} else {
			failed.stop()
			failed.c.Complete(failErr)
		}
	}
	if replace {
		p.replace()
	}
}

// aloneLocked returns the calls of jobs not yet done, each in a job that
// goes alone; a chunk's elements go one by one.
func (p *Pool) aloneLocked(jobs []*job) []*job {
	var alone []*job
	for _, j := range jobs {
		if j.done {
			continue
		}
		j.alone = true
		alone = append(alone, j)
		if j.b == nil {
			continue
		}
		for e := j.from + 1; e < j.to; e++ {
			alone = append(alone, &job{b: j.b, from: e, to: e + 1, started: j.started, alone: true})
			p.outstanding++
		}
		j.to = j.from + 1
	}
	return alone
}

// replace starts a worker in place of one that ended; the caller counted
// it in p.starting. If it cannot start, and no worker is left or
// starting, the queued calls fail rather than wait forever; so do calls
// waiting for a retry, when it is due (ensureWorkerLocked).
func (p *Pool) replace() {
	nw, err := p.startWorker()
	p.mu.Lock()
	p.starting--
	if err == nil {
		// Work may have run out meanwhile: after Close, the feed then
		// lets the worker go at once.
		p.lastErr = nil
		p.launch(nw)
		p.mu.Unlock()
		return
	}
	p.lastErr = err
	var stranded []job // copies
	if len(p.workers) == 0 && p.starting == 0 {
		for _, j := range p.queue {
			if !j.done {
				stranded = append(stranded, *j)
				if j.b != nil {
					p.settleLocked(j.b, j.size())
				}
				p.finishLocked(j)
			}
		}
		p.queue, p.queued = nil, 0
	}
	p.mu.Unlock()
	err = fmt.Errorf("%w: no worker could be started: %w", crew.ErrWorkerDied, err)
	for _, j := range stranded {
		p.progress(j.size(), func() { p.cfg.Progress.Finished(j.started, err) })
		if j.b != nil {
			j.b.b.Complete(int(j.from), int(j.to), err)
		} else {
			j.stop()
			j.c.Complete(err)
		}
	}
}

// watchdog kills workers whose current call overran the timeout plus
// grace. It runs until Close has nothing left to wait for: a cancelled
// call no longer counts as outstanding, but its worker may still be
// running it, ignoring the cancellation, and Close waits for the worker.
func (p *Pool) watchdog() {
	defer p.wg.Done()
	tick := time.NewTicker(min(max(p.cfg.Timeout/4, 5*time.Millisecond), 250*time.Millisecond))
	defer tick.Stop()
	for range tick.C {
		p.mu.Lock()
		answering := slices.ContainsFunc(p.workers, func(w *procWorker) bool { return w.pending > 0 })
		if p.closed && p.outstanding == 0 && !answering {
			p.mu.Unlock()
			return
		}
		for _, w := range p.workers {
			if w.pending > 0 && !w.dead && time.Since(w.head) > p.cfg.Timeout+p.grace {
				w.timedOut = true
				w.kill()
			}
		}
		p.mu.Unlock()
	}
}

// prefixWriter writes each line with a prefix.
type prefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	midLine bool
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	var out []byte
	for _, c := range b {
		if !pw.midLine {
			out = append(out, pw.prefix...)
			pw.midLine = true
		}
		out = append(out, c)
		if c == '\n' {
			pw.midLine = false
		}
	}
	if _, err := pw.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
