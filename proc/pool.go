package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
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
func New(opts ...crew.Option) (crew.Executor, error) {
	cfg, err := crew.NewConfig(opts...)
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, stderr: io.Writer(os.Stderr)}
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
			w.kill()
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

// Pool is the process executor New returns.
type Pool struct {
	cfg      crew.Config
	maxTasks int
	argv     []string
	stderr   io.Writer
	grace    time.Duration

	mu          sync.Mutex
	cond        *sync.Cond // queue, workers or outstanding changed
	queue       []*job     // waiting for a worker; cancelled jobs are skipped
	workers     []*procWorker
	closed      bool
	outstanding int // accepted, not completed
	nextWorker  int
	nextCall    uint64
	lastErr     error // why the last replacement failed to start
	wg          sync.WaitGroup
}

type job struct {
	c       crew.Call
	id      uint64
	arg     []byte
	retries int  // retries used
	done    bool // completed (perhaps by cancellation) while still somewhere
	claimed bool // its result is being decoded: cancellation leaves it alone
	started bool // counted as started for progress
	stop    func() bool
}

type procWorker struct {
	id       int
	cmd      *exec.Cmd
	toWorker *os.File
	wmu      sync.Mutex // guards out: batches and cancellations
	out      *bufio.Writer
	from     *bufio.Reader
	inflight []*job    // sent, results pending, in order
	head     time.Time // when inflight[0] started, as far as the pool knows
	avg      time.Duration
	ran      int
	retiring bool // no more calls: MaxTasksPerWorker reached
	dead     bool
	timedOut bool
	exited   chan struct{}
}

// Exec queues c for the next free worker.
func (p *Pool) Exec(c crew.Call) error {
	arg, err := c.EncodeArg()
	if err != nil {
		return err
	}
	p.cfg.Progress.Submitted() // before a worker can finish it
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.cfg.Progress.Withdrawn()
		return crew.ErrClosed
	}
	if len(p.workers) == 0 && p.lastErr != nil {
		err := fmt.Errorf("%w: no worker could be started: %w", crew.ErrWorkerDied, p.lastErr)
		p.mu.Unlock()
		p.cfg.Progress.Withdrawn()
		return err
	}
	p.nextCall++
	j := &job{c: c, id: p.nextCall, arg: arg}
	p.queue = append(p.queue, j)
	p.outstanding++
	// Set while locked: the callback runs on its own goroutine and waits
	// for the lock, and readers of j.stop hold it too.
	j.stop = context.AfterFunc(c.Context(), func() { p.cancel(j) })
	p.cond.Broadcast()
	p.mu.Unlock()
	return nil
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

// finishLocked marks j done and counts it out; the caller completes it.
func (p *Pool) finishLocked(j *job) {
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
	cmd.Env = append(os.Environ(), envWorker+"=1")
	cmd.ExtraFiles = []*os.File{childIn, childOut}
	cmd.Stdout = &prefixWriter{w: p.stderr, prefix: fmt.Sprintf("[worker %d] ", id)}
	cmd.Stderr = cmd.Stdout
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
		id: id, cmd: cmd, toWorker: toWorker,
		out:    bufio.NewWriterSize(toWorker, 64<<10),
		from:   bufio.NewReaderSize(fromWorker, 64<<10),
		exited: make(chan struct{}),
	}
	fail := func(err error) (*procWorker, error) {
		w.kill()
		toWorker.Close()
		fromWorker.Close()
		werr := cmd.Wait()
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

// launch adds a started worker to the pool and runs its goroutines.
func (p *Pool) launch(w *procWorker) {
	p.workers = append(p.workers, w)
	p.wg.Add(2)
	go p.feed(w)
	go p.read(w)
}

// batchFor returns how many queued calls w should take now: enough for
// about two milliseconds of its work, and no more than its share of the
// queue, so that tiny tasks travel in batches and long ones spread out.
func (p *Pool) batchFor(w *procWorker) int {
	if w.avg == 0 {
		return 1 // a probe: nothing is known yet about how long calls take
	}
	target := int(2 * time.Millisecond / w.avg)
	share := (len(p.queue) + len(p.workers) - 1) / max(1, len(p.workers))
	return max(1, min(target, share, 1024, p.quota(w)))
}

// quota is how many more calls w may be given before MaxTasksPerWorker
// retires it.
func (p *Pool) quota(w *procWorker) int {
	if p.maxTasks == 0 {
		return 1 << 30
	}
	return p.maxTasks - w.ran - len(w.inflight)
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
			idle := len(w.inflight) == 0
			if (p.closed && len(p.queue) == 0 && idle) || (w.retiring && idle) {
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
			case w.avg > 0 && len(p.queue) >= len(p.workers):
				limit = 2
			}
			if len(p.queue) > 0 && !w.retiring && p.quota(w) > 0 && len(w.inflight) < max(limit, 1) {
				break
			}
			p.cond.Wait()
		}
		n := p.batchFor(w)
		var batch []*job
		for len(batch) < n && len(p.queue) > 0 {
			j := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			if !j.done {
				batch = append(batch, j)
			}
		}
		if len(batch) == 0 {
			p.mu.Unlock()
			continue
		}
		if len(w.inflight) == 0 {
			w.head = time.Now()
		}
		var starting int
		for _, j := range batch {
			if !j.started {
				j.started = true
				starting++
			}
		}
		w.inflight = append(w.inflight, batch...)
		buf = appendCallFrame(buf[:0], batch)
		p.mu.Unlock()
		for range starting {
			p.cfg.Progress.Started()
		}
		w.wmu.Lock()
		err := writeRaw(w.out, buf)
		if err == nil {
			err = w.out.Flush()
		}
		w.wmu.Unlock()
		if err != nil {
			w.kill() // the reader sees it die and requeues the batch
		}
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

func (p *Pool) read(w *procWorker) {
	defer p.wg.Done()
	var buf []byte // reused: a result is decoded before the next frame is read
	for {
		var m message
		var err error
		buf, err = readFrameInto(w.from, buf, &m)
		if err == nil && m.Type != msgResult {
			err = fmt.Errorf("proc: unexpected %q message from worker %d", m.Type, w.id)
		}
		if err != nil {
			p.workerDied(w, err)
			return
		}
		p.mu.Lock()
		if len(w.inflight) == 0 || w.inflight[0].id != m.ID {
			p.mu.Unlock()
			p.workerDied(w, fmt.Errorf("proc: worker %d answered call %d out of order", w.id, m.ID))
			return
		}
		j := w.inflight[0]
		w.inflight[0] = nil
		w.inflight = w.inflight[1:]
		now := time.Now()
		if d := now.Sub(w.head); w.avg == 0 {
			w.avg = d
		} else {
			w.avg = (7*w.avg + d) / 8
		}
		w.head = now
		w.ran++
		if p.maxTasks > 0 && w.ran >= p.maxTasks {
			w.retiring = true // feed closes its input once the last result is in
		}
		if j.done {
			p.cond.Broadcast()
			p.mu.Unlock()
			continue // cancelled: the caller already has its answer
		}
		j.claimed = true
		p.cond.Broadcast()
		p.mu.Unlock()

		callErr := m.Error.Err()
		if callErr == nil {
			callErr = j.c.DecodeResult(m.Value)
		}
		p.mu.Lock()
		j.claimed = false
		if p.retryLocked(j, callErr) {
			p.mu.Unlock()
			continue
		}
		p.finishLocked(j)
		p.mu.Unlock()
		j.stop()
		p.cfg.Progress.Finished(true, callErr)
		j.c.Complete(callErr)
	}
}

// retryLocked requeues j after a backoff if err deserves a retry.
func (p *Pool) retryLocked(j *job, err error) bool {
	if err == nil || j.retries >= p.cfg.Retries || crew.IsPermanent(err) || j.c.Context().Err() != nil {
		return false
	}
	j.retries++
	time.AfterFunc(p.cfg.RetryDelay(j.retries), func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !j.done {
			p.queue = append(p.queue, j)
			p.cond.Broadcast()
		}
	})
	return true
}

// workerDied handles a worker's end: the call it was running fails (or is
// retried), the calls queued behind it go back to the pool, and a
// replacement starts if there is work left.
func (p *Pool) workerDied(w *procWorker, readErr error) {
	w.kill()
	w.toWorker.Close()
	waitErr := w.cmd.Wait()
	close(w.exited)

	p.mu.Lock()
	w.dead = true
	p.workers = slices.DeleteFunc(p.workers, func(x *procWorker) bool { return x == w })
	var failed *job
	var failErr error
	if len(w.inflight) > 0 {
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
			if !p.retryLocked(j, failErr) {
				failed = j
				p.finishLocked(j)
			}
		}
		// The rest never started: back to the front of the queue.
		var rest []*job
		for _, j := range w.inflight[1:] {
			if !j.done {
				rest = append(rest, j)
			}
		}
		p.queue = append(rest, p.queue...)
		w.inflight = nil
	}
	replace := !w.retiring || len(p.queue) > 0
	replace = replace && !(p.closed && p.outstanding == 0)
	p.cond.Broadcast()
	p.mu.Unlock()

	if failed != nil {
		failed.stop()
		p.cfg.Progress.Finished(failed.started, failErr)
		failed.c.Complete(failErr)
	}
	if replace {
		p.replace()
	}
}

// replace starts a worker in place of one that ended. If it cannot start,
// and no worker is left, the queued calls fail rather than wait forever.
func (p *Pool) replace() {
	nw, err := p.startWorker()
	p.mu.Lock()
	if err == nil {
		if p.closed && p.outstanding == 0 {
			p.mu.Unlock()
			nw.toWorker.Close()
			p.wg.Add(1)
			go p.read(nw)
			return
		}
		p.lastErr = nil
		p.launch(nw)
		p.mu.Unlock()
		return
	}
	p.lastErr = err
	var stranded []*job
	if len(p.workers) == 0 {
		for _, j := range p.queue {
			if !j.done {
				stranded = append(stranded, j)
				p.finishLocked(j)
			}
		}
		p.queue = nil
	}
	p.mu.Unlock()
	for _, j := range stranded {
		err := fmt.Errorf("%w: no worker could be started: %w", crew.ErrWorkerDied, err)
		j.stop()
		p.cfg.Progress.Finished(j.started, err)
		j.c.Complete(err)
	}
}

// watchdog kills workers whose current call overran the timeout plus grace.
func (p *Pool) watchdog() {
	defer p.wg.Done()
	tick := time.NewTicker(min(max(p.cfg.Timeout/4, 5*time.Millisecond), 250*time.Millisecond))
	defer tick.Stop()
	for range tick.C {
		p.mu.Lock()
		if p.closed && p.outstanding == 0 {
			p.mu.Unlock()
			return
		}
		for _, w := range p.workers {
			if len(w.inflight) > 0 && !w.dead && time.Since(w.head) > p.cfg.Timeout+p.grace {
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
