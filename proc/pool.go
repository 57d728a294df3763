package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/executor"
)

// New starts a pool of crew.Workers(n) worker processes (default
// runtime.NumCPU()) and returns it once every worker has built its
// initializers. Workers run the current executable (os.Executable) again,
// so main must call ServeIfWorker first; a worker that does not answer
// within ten seconds makes New fail with an error saying so, and New
// called inside a worker process (a main that forgot ServeIfWorker) fails
// at once, naming it. An invalid option fails New.
//
// A worker that dies — killed, os.Exit, a crash outside the task's
// recover, out of memory — fails only the task it was running, with an
// error wrapping crew.ErrWorkerDied and its exit status (or runs it again
// under crew.Retries); its queued tasks go to other workers and a
// replacement starts. Under crew.Timeout, a worker whose task overruns
// the timeout by a grace period is killed and the task fails with
// crew.ErrTimeout. Workers exit when the parent dies.
//
// Each worker runs one task at a time, so unless the environment sets
// GOMAXPROCS, a worker's Go runtime gets an equal share of this process's
// processors: runtime.GOMAXPROCS(max(1, runtime.GOMAXPROCS(0)/n)). With
// one worker per core, a worker's runtime then runs Go code on one thread
// at a time and does not take a core from another worker's task. Programs
// the tasks start are not affected.
func New(opts ...crew.Option) (crew.Executor, error) {
	cfg, err := executor.NewConfig(opts...)
	if err != nil {
		return nil, err
	}
	if inWorker() {
		return nil, notServing()
	}
	if err := supported(); err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, policy: cfg.Policy(), stderr: io.Writer(os.Stderr), backoff: map[*job]*time.Timer{}}
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

// Pool is the process executor New returns. It cuts each batch (a
// Submit's one call, a chunk of crew.Map's inputs) into frames of about
// two milliseconds of a worker's measured work — one element at first,
// up to thousands for tiny tasks. Timeouts and retries of task errors
// are the workers' own (the attempt policy of package executor); what
// the pool adds is what only it can do: kill a worker whose task overran
// its timeout, and run again the element a dead worker held.
//
// A worker that dies in the middle of a frame fails (or runs again) only
// the element it was running; the rest go to the other workers. If it
// died too soon after starting that element to have said so — within
// about a millisecond, perhaps with the answers of elements it had just
// finished still unsent — every element it had not answered runs again,
// each alone on a worker, and only one that kills its worker then fails.
// So near a worker's death a task runs at least once, not exactly once:
// one that finished just before, its answer unsent, runs again whatever
// crew.Retries says. Tasks with side effects should tolerate that.
type Pool struct {
	cfg      executor.Config
	policy   executor.Policy
	maxTasks int
	argv     []string
	env      []string // the workers' environment
	stderr   io.Writer
	stderrMu sync.Mutex // held while a worker's output is written to stderr

	mu          sync.Mutex
	cond        *sync.Cond // queue, workers or outstanding changed
	queue       []*job     // waiting for a worker; cancelled jobs are skipped
	queued      int        // elements in queue
	workers     []*procWorker
	starting    int // replacements being started
	closed      bool
	outstanding int // jobs accepted, not completed
	nextWorker  int
	nextID      uint64
	lastErr     error // why the last replacement failed to start
	// backoff holds the elements waiting out the delay before they run
	// again after their worker died, with their timers: they are
	// outstanding, yet in no queue.
	backoff map[*job]*time.Timer
	wg      sync.WaitGroup
}

// job is what the pool queues and sends: elements [from, to) of a batch,
// sent as one chunk frame and answered element by element, from first.
type job struct {
	b        *batch
	from, to int32  // 32 bits keep a job in a small allocation size class
	id       uint64 // new each time it is sent
	tries    int32  // attempts element from had already (its workers died, or it was retried)
	done     bool   // completed (perhaps by cancellation) while still somewhere
	claimed  bool   // results are being decoded: cancellation leaves it alone
	started  bool   // element from is counted as Running
	alone    bool   // sent to an idle worker, and nothing with it: see workerDied
}

// size returns how many elements j holds.
func (j *job) size() int { return int(j.to - j.from) }

// batch is one Exec; the jobs split from it share it.
type batch struct {
	b    executor.Batch
	left int         // elements not yet completed
	stop func() bool // unregisters the cancellation callback
}

// Exec queues b for the workers; they take it in pieces sized to their
// speed: one element first, then about two milliseconds of work.
func (p *Pool) Exec(b executor.Batch) error {
	n := b.Len()
	if n == 0 {
		return nil
	}
	p.cfg.Progress.Submitted(n) // before a worker can finish it
	p.mu.Lock()
	if err := p.refuseLocked(); err != nil {
		p.mu.Unlock()
		p.cfg.Progress.Withdrawn(n)
		return err
	}
	bs := &batch{b: b, left: n}
	for from := 0; from < n; from += math.MaxInt32 { // job ranges are 32-bit
		p.enqueueLocked(&job{b: bs, from: int32(from), to: int32(min(n, from+math.MaxInt32))})
		p.outstanding++
	}
	// Set while locked: the callback runs on its own goroutine and waits
	// for the lock, and readers of bs.stop hold it too.
	bs.stop = context.AfterFunc(b.Context(), func() { p.cancel(bs) })
	p.mu.Unlock()
	return nil
}

// refuseLocked returns why the pool takes no batches, or nil.
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

// settleLocked records k elements of bs completed.
func (p *Pool) settleLocked(bs *batch, k int) {
	bs.left -= k
	if bs.left == 0 && bs.stop != nil {
		bs.stop()
	}
}

// finishLocked marks j done and counts it out; the caller completes it.
func (p *Pool) finishLocked(j *job) {
	if len(p.backoff) > 0 {
		if t, ok := p.backoff[j]; ok { // cancelled while waiting to run again
			t.Stop()
			delete(p.backoff, j)
		}
	}
	j.done = true
	p.outstanding--
	p.cond.Broadcast()
}

// failedLocked records elements [from, to) of j failed with err and
// returns the completion to make once unlocked; element from counts as
// started if j says so.
func (p *Pool) failedLocked(j *job, from, to int32, err error) func() {
	if from == to {
		return func() {}
	}
	p.settleLocked(j.b, int(to-from))
	p.cfg.Progress.Finished(j.started && from == j.from, err)
	for range to - from - 1 {
		p.cfg.Progress.Finished(false, err)
	}
	b := j.b.b
	return func() { b.Complete(int(from), int(to), err) }
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
