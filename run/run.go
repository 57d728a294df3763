package run

import (
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Run runs the jobs and returns nil if all succeeded, a *FailedError if
// some failed, a *HaltError if Halt stopped the run (or, with a
// percentage, ended it), ctx's error if it was cancelled, or an error for
// bad options or unreadable input. Jobs still running when ctx is
// cancelled, or when Halt.Now stops the run, are killed and then left
// out — not printed, logged or counted as failed — so that Resume runs
// them again; a job killed by Timeout is a failure.
//
// With LineBuffer and KeepOrder, as with GNU parallel, the lines of the
// oldest unfinished job are printed as they come and those of later jobs
// are held until each becomes the oldest, then printed at once; so the
// output is in input order and the oldest job's is live.
func Run(ctx context.Context, o Options) error {
	r, err := newRunner(o)
	if err != nil {
		return err
	}
	defer r.close()
	return r.run(ctx)
}

type runner struct {
	o        Options
	tmpl     *Template
	tagTmpl  *Template
	resTmpl  *Template // --results with replacement strings
	wdTmpl   *Template // --workdir
	filters  []*Template
	ev       *evaluator
	quoteArg bool
	in       inputSpec
	readers  []*recordReader
	// allRecords holds the whole input when it was read first (the total
	// needed, --shuf); nil when records are streamed.
	allRecords [][]string
	total      int // jobs in all; -1 while unknown
	fill       bool
	needTotal  bool
	maxLen     int
	maxJobs    int
	joblog     io.Writer
	joblogFile *os.File
	done       map[int]bool // --resume: seqs to skip
	results    *resultsWriter
	shell      string
	paths      sync.Map // program name → resolved path
	began      time.Time
	cancel     context.CancelFunc
	started    atomic.Int64 // jobs handed to slots
	halted     atomic.Bool
	haltSeq    atomic.Int64  // the job that halted the run (--halt now)
	stop       chan struct{} // closed on halt
	direct     bool          // jobs start with attemptDirect
	directIO
	limits  *limiter
	pipe    *blockSplitter
	streams *streams   // --round-robin, --tee
	reap    *reapOrder // nil unless the order jobs finish in shows
	dryOut  *batchedOut

	inMu      sync.Mutex // guards the input and the slots
	pull      func() (*job, error, bool)
	inputDone bool
	inputErr  error
	lastStart time.Time
	freeSlots []int
	maxSlot   int
	fatalErr  error
	askMu     sync.Mutex

	outMu      sync.Mutex // guards the output and what follows
	progress   Progress
	held       map[int]*job // -k: finished jobs waiting for their turn
	nextOut    int          // -k: the job to print next
	live       map[int]*job // --line-buffer -k: the running jobs, by seq
	running    int
	runtimes   []time.Duration // of the jobs that succeeded, for --timeout N%
	lastStatus int             // the last failed job's exit status, 128 + signal for a signal
	halt       halter
	haltErr    *HaltError
}

func (r *runner) run(ctx context.Context) error {
	ctx, r.cancel = context.WithCancel(ctx)
	defer r.cancel()
	r.began = time.Now()
	r.progress.Total = r.total
	r.held = map[int]*job{}
	r.live = map[int]*job{}
	r.nextOut = 1
	r.stop = make(chan struct{})
	r.halt = halter{h: r.o.Halt, stderr: r.o.Stderr, total: r.totalJobs, runningOthers: func() int { return r.running - 1 }}
	var jobs iter.Seq2[*job, error]
	switch {
	case r.o.Tee:
		jobs = r.teeJobs()
	case r.pipe != nil && r.o.RoundRobin:
		jobs = r.pipe.roundRobinJobs()
	case r.pipe != nil:
		jobs = r.pipe.jobs()
	default:
		jobs = r.argJobs()
	}
	var stopPull func()
	r.pull, stopPull = iter.Pull2(jobs)
	defer stopPull()

	// Each slot takes a job, runs it and finishes it (prints, logs, checks
	// --halt) before taking the next: no goroutine hands jobs to another,
	// and a --halt decided on a job stops the next start.
	var slots sync.WaitGroup
	for range r.slotGoroutines() {
		slots.Go(func() {
			for {
				j := r.next(ctx)
				if j == nil {
					return
				}
				r.execute(ctx, j)
				r.finish(j)
			}
		})
	}
	slots.Wait()
	if r.dryOut != nil {
		r.dryOut.close()
	}
	r.limits.stop()
	if r.streams != nil {
		r.streams.stop()
	}

	if r.fatalErr != nil {
		return r.fatalErr
	}
	if r.haltErr != nil {
		return r.haltErr
	}
	if r.inputErr != nil {
		return r.inputErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.o.Halt.Percent > 0 {
		if s := r.halt.final(int(r.started.Load())); s != 0 {
			return &HaltError{Status: s}
		}
		return nil
	}
	if r.progress.Failed > 0 {
		if r.o.SingleJobStatus {
			return &HaltError{Status: r.lastStatus}
		}
		return &FailedError{Failed: r.progress.Failed}
	}
	return nil
}

// slotGoroutines is how many goroutines take jobs: Jobs (one for a dry run), or with -j FILE
// the most it may ever allow (the limiter holds back the rest).
func (r *runner) slotGoroutines() iter.Seq[int] {
	n := r.o.Jobs
	switch {
	case r.o.DryRun:
		n = 1 // nothing runs: more goroutines would only contend for the input and the output
	case r.limits != nil && r.limits.jobsFile != "":
		n = maxJobsFromFile
	}
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

// fatal stops the run for an error no job caused (Perl code failing, a
// command line too long).
func (r *runner) fatal(err error) {
	r.inMu.Lock()
	if r.fatalErr == nil {
		r.fatalErr = err
	}
	r.inMu.Unlock()
	r.halted.Store(true)
	r.cancel()
}

// next returns the next job to run, or nil when there is none: the input
// has ended or failed, the run was halted or cancelled. Jobs a resumed
// joblog already has are passed over, --delay spaces the starts, and the
// limits (-j FILE, --load, --memfree) hold the start back.
func (r *runner) next(ctx context.Context) *job {
	if !r.limits.wait(ctx, r.stop) {
		return nil
	}
	r.inMu.Lock()
	defer r.inMu.Unlock()
	for !r.inputDone && !r.halted.Load() && ctx.Err() == nil {
		j, err, ok := r.pull()
		if err != nil {
			r.inputErr = err
		}
		if !ok || err != nil {
			r.inputDone = true
			break
		}
		if r.done[j.seq] || (r.results != nil && r.o.Resume && r.results.exists(r, j)) {
			r.skip(j)
			continue
		}
		if r.o.Delay > 0 && !r.lastStart.IsZero() {
			t := time.NewTimer(time.Until(r.lastStart.Add(r.o.Delay)))
			select {
			case <-t.C:
			case <-ctx.Done():
			case <-r.stop:
			}
			t.Stop()
			if ctx.Err() != nil || r.halted.Load() {
				break
			}
		}
		if r.o.Delay > 0 {
			r.lastStart = time.Now()
		}
		r.started.Add(1)
		j.slot = r.takeSlot()
		r.reap.take(j.seq)
		return j
	}
	r.limits.release()
	return nil
}

// takeSlot gives a job its slot as GNU parallel does: the slot freed
// longest ago, or a new one; so jobs 1..N start in slots 1..N. The caller
// holds inMu.
func (r *runner) takeSlot() int {
	if len(r.freeSlots) > 0 {
		s := r.freeSlots[0]
		// shifted, not resliced, so that freeSlot's appends reuse the array
		r.freeSlots = r.freeSlots[:copy(r.freeSlots, r.freeSlots[1:])]
		return s
	}
	r.maxSlot++
	return r.maxSlot
}

func (r *runner) freeSlot(s int) {
	r.inMu.Lock()
	r.freeSlots = append(r.freeSlots, s)
	r.inMu.Unlock()
	r.limits.release()
}

// execute fills in a job's command and runs it with its retries; the
// output kept is the last attempt's.
func (r *runner) execute(ctx context.Context, j *job) {
	j.env = r.newEnv(j.seq, j)
	if err := r.fillIn(j); err != nil {
		r.fatal(err)
		j.killed = true
		return
	}
	r.outMu.Lock()
	r.running++
	r.outMu.Unlock()
	if r.o.Interactive && !j.dropped {
		j.dropped = !r.ask(j)
	} else if r.o.PrintCmd && !r.o.DryRun {
		fmt.Fprintln(r.o.Stderr, j.cmd)
	}
	if r.o.DryRun {
		return
	}
	if j.dropped {
		j.exit, j.start = -2, time.Now() // GNU parallel runs true instead
		return
	}
	if r.o.Verbose {
		if j.reader != "" {
			j.stdout.WriteString(j.reader + " |(" + j.cmd + ")\n")
		} else {
			j.stdout.WriteString(j.cmd + "\n")
		}
		if r.o.Ungroup {
			r.outMu.Lock()
			r.o.Stdout.Write(j.stdout.Bytes())
			r.outMu.Unlock()
			j.stdout.Reset()
		}
	}
	if r.o.ShellQuote > 0 {
		c := j.cmd
		for range r.o.ShellQuote {
			c = Quote(c)
		}
		j.stdout.WriteString(c + "\n")
		j.start = time.Now()
		return
	}
	if r.o.LineBuffer && r.o.KeepOrder {
		// flushHeld finds it here when it becomes the oldest job
		r.outMu.Lock()
		r.live[j.seq] = j
		r.outMu.Unlock()
	}
	verbose := j.stdout.Len()
	if j.stdinR != nil {
		// a streamed job that has ended reads no more: its feeder drops the rest
		defer j.stdinR.CloseWithError(errStreamEnded)
	}
	for attempt := 1; ; attempt++ {
		j.stdout.Truncate(verbose)
		j.stderr.Reset()
		j.exit, j.signal, j.startErr, j.timedOut, j.killed = 0, 0, nil, false, false
		r.attempt(ctx, j)
		if !j.failed() || attempt >= r.o.Retries || ctx.Err() != nil || j.stdinR != nil {
			return
		}
		if !r.limits.waitMemory(ctx, r.stop) {
			return
		}
	}
}

// fillIn expands the job's command line, tag and filters.
func (r *runner) fillIn(j *job) error {
	args := j.args
	if len(args) == 0 {
		args = []string{""}
	}
	x := &expansion{t: r.tmpl, args: args, env: j.env, ev: r.ev, quoteArg: r.quoteArg}
	cmd, err := x.expand()
	if err != nil {
		return err
	}
	j.cmd = cmd
	plain := func(t *Template) (string, error) {
		return (&expansion{t: t, args: args, env: j.env, ev: r.ev, cache: x.cache}).expand()
	}
	if r.wdTmpl != nil {
		dir, err := plain(r.wdTmpl)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("--workdir: %w", err)
		}
		j.dir = dir
	}
	if r.tagTmpl != nil && !r.o.Ungroup {
		tag, err := plain(r.tagTmpl)
		if err != nil {
			return err
		}
		j.tag = tag + "\t"
	}
	for _, f := range r.filters {
		code, err := plain(f)
		if err != nil {
			return err
		}
		ok, err := r.ev.filter(code, j.env)
		if err != nil {
			return fmt.Errorf("--filter %q: %w", code, err)
		}
		if !ok {
			j.dropped = true
		}
	}
	j.dropped = j.dropped || j.env.skip
	return nil
}

func (r *runner) attempt(ctx context.Context, j *job) {
	if r.o.Executor != nil {
		r.attemptRemote(ctx, j)
		return
	}
	r.attemptLocal(ctx, j)
}

// attemptLocal runs j's command in a child process of this one.
func (r *runner) attemptLocal(ctx context.Context, j *job) {
	if r.direct && r.attemptDirect(ctx, j) {
		return
	}
	r.attemptExec(ctx, j)
}

// jobEnv is the environment of a job: this process's, with GNU
// parallel's variables for the job.
func (r *runner) jobEnv(j *job) []string {
	env := os.Environ()
	if j.env == nil { // a remote job run here (Shell)
		return env
	}
	slotVar := r.o.SlotVar
	if slotVar == "" {
		slotVar = "PARALLEL_JOBSLOT0"
	}
	env = append(env,
		"PARALLEL_SEQ="+strconv.Itoa(j.seq),
		"PARALLEL_JOBSLOT="+strconv.Itoa(j.slot),
		slotVar+"="+strconv.Itoa(j.slot-1),
		"PARALLEL_PID="+strconv.Itoa(os.Getpid()),
		"PARALLEL_SHELL="+r.shell,
	)
	if j.tmpFile != "" {
		env = append(env, "PARALLEL_TMP="+j.tmpFile)
	}
	return env
}

func (r *runner) warnTimeout(j *job) {
	fmt.Fprintf(r.o.Stderr, "crew run: Warning: This job was killed because it timed out:\ncrew run: Warning: %s\n", j.cmd)
}
