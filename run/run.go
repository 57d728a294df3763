package run

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/crewrun/crew"
)

// Options configure Run. Command and Stdout are required.
type Options struct {
	Command      []string // the command template, as words
	QuoteCommand bool     // -q: quote each command word whole once filled in: no word is shell syntax
	Sources      []Source // combined as a cartesian product; none means lines of Stdin
	Null         bool     // records end with NUL instead of newline
	ColSep       string   // a regular expression splitting each record into {1} {2} ...
	MaxArgs      int      // records per job (-n/-N); 0 means 1
	Pipe         bool     // --pipe: split Stdin into blocks fed to the jobs' standard input
	BlockSize    int      // --pipe block size in bytes; 0 means 1 MiB
	Jobs         int      // jobs at once; 0 means 1
	KeepOrder    bool     // -k: print output in input order
	LineBuffer   bool     // print output line by line as it comes (lines of jobs may mix; with KeepOrder, see Run)
	Tag          bool     // prefix output lines with the job's arguments and a tab
	DryRun       bool     // print the commands instead of running them
	JobLog       string   // append a GNU parallel joblog here
	Resume       bool     // skip jobs already in JobLog
	ResumeFailed bool     // skip jobs in JobLog that succeeded; rerun the failed ones
	Retries      int      // attempts per job (GNU parallel's --retries); 0 means 1
	Timeout      time.Duration
	Halt         Halt
	Delay        time.Duration // between job starts
	Results      string        // write each job's stdout and stderr under this directory
	Shell        string        // the shell for commands that need one; default /bin/sh
	Stdin        io.Reader
	Stdout       io.Writer
	Stderr       io.Writer
	Progress     func(Progress) // called after each job; for --bar and --eta

	// Executor, if set, runs each job's command line as the Shell task on
	// that executor's workers (crew run --cluster), which must have called
	// AllowShell(true). Input, ordering, output, the joblog and --halt stay
	// in this process; --line-buffer prints a remote job's lines when it ends.
	Executor crew.Executor
}

// Progress counts jobs for a progress display.
type Progress struct {
	Started, Done, Failed int
	Total                 int // -1 while unknown
	Elapsed               time.Duration
}

// FailedError reports jobs that failed; like GNU parallel, the exit status
// is their number, at most 101.
type FailedError struct{ Failed int }

func (e *FailedError) Error() string { return fmt.Sprintf("%d job(s) failed", e.Failed) }

// ExitStatus returns GNU parallel's exit status for the failures.
func (e *FailedError) ExitStatus() int { return min(e.Failed, 101) }

// HaltError reports a run stopped by Options.Halt; Status is the exit
// status GNU parallel gives: the triggering job's, or 0 for success.
type HaltError struct {
	Status  int
	Command string
	Reason  string // "failed" or "succeeded"
}

func (e *HaltError) Error() string {
	return fmt.Sprintf("halted: this job %s: %s", e.Reason, e.Command)
}

// Halt says when to stop early (GNU parallel's --halt).
type Halt struct {
	Now       bool    // kill running jobs (else: let them finish, start no more)
	OnSuccess bool    // count successes instead of failures
	Count     int     // stop after this many; 0 with Percent 0 means never
	Percent   float64 // or after this share of finished jobs
}

// ParseHalt reads --halt: never, now|soon,fail|success=N or =P%, or the
// old numeric forms 0 (never), 1 (soon,fail=1) and 2 (now,fail=1).
func ParseHalt(s string) (Halt, error) {
	switch s {
	case "", "never", "0":
		return Halt{}, nil
	case "1":
		return Halt{Count: 1}, nil
	case "2":
		return Halt{Now: true, Count: 1}, nil
	}
	when, cond, ok := strings.Cut(s, ",")
	if !ok || (when != "now" && when != "soon") {
		return Halt{}, fmt.Errorf("--halt %q: want never, or now|soon,fail=N|success=N (N or N%%)", s)
	}
	kind, val, ok := strings.Cut(cond, "=")
	if !ok || (kind != "fail" && kind != "success" && kind != "done") {
		return Halt{}, fmt.Errorf("--halt %q: the condition is fail=, success= or done=", s)
	}
	h := Halt{Now: when == "now", OnSuccess: kind == "success"}
	if p, isPct := strings.CutSuffix(val, "%"); isPct {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 || f > 100 {
			return Halt{}, fmt.Errorf("--halt %q: the percentage must be in (0, 100]", s)
		}
		h.Percent = f
	} else {
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 {
			return Halt{}, fmt.Errorf("--halt %q: the count must be a whole number ≥ 1", s)
		}
		h.Count = n
	}
	if kind == "done" {
		return Halt{}, fmt.Errorf("--halt %q: done= is not supported", s)
	}
	return h, nil
}

type job struct {
	seq      int
	args     []string
	cmd      string
	stdin    []byte // --pipe block
	slot     int
	start    time.Time
	runtime  time.Duration
	exit     int
	signal   int
	stdout   bytes.Buffer
	stderr   bytes.Buffer
	received int64
	timedOut bool
	// killed: crew ended the job because the run was cancelled or halted
	// (--halt now), not because of anything the job did. Like GNU
	// parallel, crew then neither prints nor logs it, nor counts it as
	// failed, so that --resume runs it again.
	killed   bool
	startErr error
	skipped  bool   // already in the joblog (--resume)
	host     string // the worker's host name when run on Options.Executor

	// --line-buffer -k: whole lines held while an older job is unfinished
	heldOut, heldErr bytes.Buffer
}

func (j *job) failed() bool { return j.exit != 0 || j.signal != 0 || j.startErr != nil }

// Run runs the jobs and returns nil if all succeeded, a *FailedError if
// some failed, a *HaltError if Halt stopped the run, ctx's error if it was
// cancelled, or an error for bad options or unreadable input. Jobs still
// running when ctx is cancelled, or when Halt.Now stops the run, are
// killed and then left out — not printed, logged or counted as failed —
// so that Resume runs them again; a job killed by Timeout is a failure.
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
	o       Options
	tmpl    *Template
	colsep  *regexp.Regexp
	joblog  *os.File
	done    map[int]bool // --resume: seqs to skip
	shell   string
	paths   sync.Map // program name → resolved path
	total   int
	began   time.Time
	cancel  context.CancelFunc
	started atomic.Int64 // jobs handed to slots
	halted  atomic.Bool
	stop    chan struct{} // closed on halt
	direct  bool          // jobs start with attemptDirect
	directIO

	inMu      sync.Mutex // guards the input
	pull      func() (*job, error, bool)
	inputDone bool
	inputErr  error
	lastStart time.Time

	outMu    sync.Mutex // guards the output and what follows
	progress Progress
	held     map[int]*job // -k: finished jobs waiting for their turn
	nextOut  int          // -k: the job to print next
	live     map[int]*job // --line-buffer -k: the running jobs, by seq
	halt     *HaltError
}

func newRunner(o Options) (*runner, error) {
	if len(o.Command) == 0 {
		return nil, errors.New("no command given")
	}
	if o.Stdout == nil || o.Stderr == nil {
		return nil, errors.New("run: Stdout and Stderr are required")
	}
	o.Jobs = max(o.Jobs, 1)
	if o.DryRun {
		o.KeepOrder = true // commands print in input order, whatever the job count
	}
	o.MaxArgs = max(o.MaxArgs, 1)
	o.Retries = max(o.Retries, 1)
	if o.BlockSize <= 0 {
		o.BlockSize = 1 << 20
	}
	if o.Stdin == nil {
		o.Stdin = strings.NewReader("")
	}
	r := &runner{o: o, shell: o.Shell, total: -1}
	if r.shell == "" {
		r.shell = defaultShell
	}
	var err error
	if o.QuoteCommand {
		r.tmpl, err = parseQuotedWords(o.Command)
	} else {
		r.tmpl, err = ParseTemplate(strings.Join(o.Command, " "))
	}
	if err != nil {
		return nil, err
	}
	if o.Pipe {
		r.tmpl.dropAppendedArgs()
	}
	if o.ColSep != "" {
		if r.colsep, err = regexp.Compile(o.ColSep); err != nil {
			return nil, fmt.Errorf("--colsep %q: %w", o.ColSep, err)
		}
	}
	for _, s := range o.Sources {
		if err := s.check(); err != nil {
			return nil, err
		}
	}
	if len(o.Sources) == 0 {
		r.o.Sources = []Source{File("-")}
	} else {
		total := 1
		for _, s := range o.Sources {
			n := s.count(recordSep(o.Null))
			if n < 0 {
				total = -1
				break
			}
			total *= n
		}
		if total >= 0 {
			r.total = (total + o.MaxArgs - 1) / o.MaxArgs
		}
	}
	if o.JobLog != "" && !o.DryRun {
		if err := r.openJobLog(); err != nil {
			return nil, err
		}
	}
	if o.Results != "" && !o.DryRun {
		if err := os.MkdirAll(o.Results, 0o755); err != nil {
			return nil, fmt.Errorf("--results: %w", err)
		}
	}
	// --line-buffer prints output as it comes and --pipe feeds standard
	// input: both need pipes, which os/exec provides.
	if !o.LineBuffer && !o.Pipe && !o.DryRun {
		_ = r.openDirect() // if it fails, jobs run with os/exec
	}
	return r, nil
}

func (r *runner) close() {
	r.closeDirect()
	if r.joblog != nil {
		r.joblog.Close()
	}
}

const jobLogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

func (r *runner) openJobLog() error {
	resume := r.o.Resume || r.o.ResumeFailed
	if resume {
		r.done = map[int]bool{}
		if err := readJobLog(r.o.JobLog, r.o.ResumeFailed, r.done); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if !resume {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(r.o.JobLog, flags, 0o644)
	if err != nil {
		return fmt.Errorf("--joblog: %w", err)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		if _, err := f.WriteString(jobLogHeader); err != nil {
			f.Close()
			return fmt.Errorf("--joblog: %w", err)
		}
	}
	r.joblog = f
	return nil
}

// readJobLog marks the jobs of an earlier run to skip: all of them, or
// with onlySucceeded, those that exited 0 without a signal.
func readJobLog(path string, onlySucceeded bool, done map[int]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; s.Scan(); line++ {
		fields := strings.SplitN(s.Text(), "\t", 9)
		if line == 1 && len(fields) > 0 && fields[0] == "Seq" {
			continue
		}
		if len(fields) < 9 {
			continue // a line cut by a crash: that job runs again
		}
		seq, err1 := strconv.Atoi(fields[0])
		exit, err2 := strconv.Atoi(fields[6])
		sig, err3 := strconv.Atoi(fields[7])
		if err1 != nil || err2 != nil || err3 != nil {
			return fmt.Errorf("--joblog %s line %d: not a joblog line: %q", path, line, s.Text())
		}
		if !onlySucceeded || (exit == 0 && sig == 0) {
			done[seq] = true
		}
	}
	return s.Err()
}

// dropAppendedArgs removes the argument list a template without
// replacement strings gets appended: --pipe jobs read standard input.
func (t *Template) dropAppendedArgs() {
	if !t.usesArgs && len(t.parts) >= 2 {
		t.parts = t.parts[:len(t.parts)-2]
	}
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
	jobs := r.argJobs()
	if r.o.Pipe {
		jobs = r.blockJobs()
	}
	var stopPull func()
	r.pull, stopPull = iter.Pull2(jobs)
	defer stopPull()

	// Each slot takes a job, runs it and finishes it (prints, logs, checks
	// --halt) before taking the next: no goroutine hands jobs to another,
	// and a --halt decided on a job stops the next start.
	var slots sync.WaitGroup
	for slot := 1; slot <= r.o.Jobs; slot++ {
		slots.Go(func() {
			for {
				j := r.next(ctx)
				if j == nil {
					return
				}
				j.slot = slot
				r.execute(ctx, j)
				r.finish(j)
			}
		})
	}
	slots.Wait()

	if r.halt != nil {
		fmt.Fprintf(r.o.Stderr, "crew run: This job %s:\n%s\n", r.halt.Reason, r.halt.Command)
		return r.halt
	}
	if r.inputErr != nil {
		return r.inputErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.progress.Failed > 0 {
		return &FailedError{Failed: r.progress.Failed}
	}
	return nil
}

// next returns the next job to run, or nil when there is none: the input
// has ended or failed, the run was halted or cancelled. Jobs a resumed
// joblog already has are passed over, and --delay spaces the starts.
func (r *runner) next(ctx context.Context) *job {
	r.inMu.Lock()
	defer r.inMu.Unlock()
	for !r.inputDone && !r.halted.Load() && ctx.Err() == nil {
		j, err, ok := r.pull()
		if err != nil {
			r.inputErr = err
		}
		if !ok || err != nil {
			r.inputDone = true
			return nil
		}
		if r.done[j.seq] {
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
				return nil
			}
		}
		r.lastStart = time.Now()
		r.started.Add(1)
		return j
	}
	return nil
}

// argJobs makes a job of each argument list.
func (r *runner) argJobs() iter.Seq2[*job, error] {
	return func(yield func(*job, error) bool) {
		seq := 0
		for args, err := range argLists(r.o.Sources, r.o.Stdin, r.o.Null, r.colsep, r.o.MaxArgs) {
			if err != nil {
				yield(nil, err)
				return
			}
			seq++
			if !yield(&job{seq: seq, args: args}, nil) {
				return
			}
		}
	}
}

// blockJobs splits Stdin into blocks of about BlockSize, ending at a
// record boundary, one job each (--pipe). A block ends with the record
// that brings it to BlockSize, so a record longer than that makes a block
// of its own (GNU parallel grows the block for it): a record is never cut.
func (r *runner) blockJobs() iter.Seq2[*job, error] {
	return func(yield func(*job, error) bool) {
		sep := recordSep(r.o.Null)
		br := bufio.NewReaderSize(r.o.Stdin, 64<<10)
		for seq := 1; ; seq++ {
			block := make([]byte, 0, r.o.BlockSize+4096)
			for {
				chunk, err := br.ReadSlice(sep)
				block = append(block, chunk...)
				if err == io.EOF {
					break
				}
				// ErrBufferFull: the chunk is the first 64 KiB of a longer
				// record, whose rest must join it whatever the block's size.
				midRecord := errors.Is(err, bufio.ErrBufferFull)
				if err != nil && !midRecord {
					yield(nil, fmt.Errorf("--pipe: %w", err))
					return
				}
				if !midRecord && len(block) >= r.o.BlockSize {
					break
				}
			}
			if len(block) == 0 || !yield(&job{seq: seq, stdin: block}, nil) {
				return
			}
		}
	}
}

// skip passes over a job a resumed joblog has; with -k its place in the
// output order is then free.
func (r *runner) skip(j *job) {
	if !r.o.KeepOrder {
		return
	}
	r.outMu.Lock()
	defer r.outMu.Unlock()
	j.skipped = true
	r.held[j.seq] = j
	r.flushHeld()
}

// finish prints a job's output (or holds it for -k), logs it, reports
// progress and applies --halt.
func (r *runner) finish(j *job) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	delete(r.live, j.seq)
	if j.killed {
		// As if it had not run: its partial output would be printed
		// again when --resume runs it again. With -k it frees its place
		// in the output order, as a job --resume passes over does.
		if r.o.KeepOrder {
			j.skipped = true
			r.held[j.seq] = j
			r.flushHeld()
		}
		return
	}
	r.progress.Done++
	if j.failed() {
		r.progress.Failed++
	}
	if r.o.KeepOrder {
		r.held[j.seq] = j
	} else {
		r.output(j)
	}
	r.logJob(j)
	if r.o.Progress != nil {
		r.progress.Elapsed = time.Since(r.began)
		r.progress.Started = int(r.started.Load())
		r.o.Progress(r.progress)
	}
	if r.halt == nil {
		if r.halt = r.checkHalt(j); r.halt != nil {
			r.halted.Store(true)
			close(r.stop)
			if r.o.Halt.Now {
				r.cancel()
			}
		}
	}
	r.flushHeld()
}

// flushHeld prints the held jobs (-k) that are next in input order. With
// --line-buffer, the job that is then the oldest may still be running:
// the lines it has written so far are printed, and the rest will be as
// they come (lineWriter.emit).
func (r *runner) flushHeld() {
	for {
		h, ok := r.held[r.nextOut]
		if !ok {
			break
		}
		delete(r.held, r.nextOut)
		r.nextOut++
		if !h.skipped {
			r.output(h)
		}
	}
	if j, ok := r.live[r.nextOut]; ok {
		r.releaseLines(j)
	}
}

// releaseLines prints the lines held for a --line-buffer -k job. The
// caller holds outMu.
func (r *runner) releaseLines(j *job) {
	r.writeTagged(r.o.Stdout, j, j.heldOut.Bytes())
	r.writeTagged(r.o.Stderr, j, j.heldErr.Bytes())
	j.heldOut.Reset()
	j.heldErr.Reset()
}

// execute runs a job with its retries; the output kept is the last attempt's.
func (r *runner) execute(ctx context.Context, j *job) {
	j.cmd = r.tmpl.Expand(j.args, j.seq, j.slot)
	if r.o.DryRun {
		return
	}
	if r.o.LineBuffer && r.o.KeepOrder {
		// flushHeld finds it here when it becomes the oldest job
		r.outMu.Lock()
		r.live[j.seq] = j
		r.outMu.Unlock()
	}
	for attempt := 1; ; attempt++ {
		j.stdout.Reset()
		j.stderr.Reset()
		j.exit, j.signal, j.startErr, j.timedOut, j.killed = 0, 0, nil, false, false
		r.attempt(ctx, j)
		if !j.failed() || attempt >= r.o.Retries || ctx.Err() != nil {
			return
		}
	}
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

// attemptExec runs a job with os/exec, its output copied through pipes:
// for --line-buffer, --pipe, and where attemptDirect cannot run a job.
func (r *runner) attemptExec(ctx context.Context, j *job) {
	path, argv := r.argv(j.cmd)
	cmd := &exec.Cmd{Path: path, Args: argv}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if j.stdin != nil {
		cmd.Stdin = bytes.NewReader(j.stdin)
	}
	var stdout, stderr io.Writer = &j.stdout, &j.stderr
	flushLines := func() {}
	if r.o.LineBuffer {
		stdout, stderr, flushLines = r.lineOutput(j)
	}
	counted := &countWriter{w: stdout}
	cmd.Stdout, cmd.Stderr = counted, stderr
	j.start = time.Now()
	if err := cmd.Start(); err != nil {
		j.startErr = err
		j.exit = 127
		fmt.Fprintf(&j.stderr, "crew run: %v\n", err)
		return
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var timeout <-chan time.Time
	if r.o.Timeout > 0 {
		t := time.NewTimer(r.o.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	exited := false
	select {
	case err = <-waited:
		exited = true
	case <-timeout:
		j.timedOut = true
		r.warnTimeout(j)
	case <-ctx.Done():
		j.killed = true
	}
	if !exited {
		pid := cmd.Process.Pid
		exited = killGroup(func(s syscall.Signal) { syscall.Kill(-pid, s) }, func(d time.Duration) bool {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case err = <-waited:
				return true
			case <-t.C:
				return false
			}
		})
		if !exited {
			err = <-waited
		}
	}
	j.runtime = time.Since(j.start)
	j.received = counted.n
	flushLines()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			j.signal = int(ws.Signal())
			j.exit = -1
		} else {
			j.exit = ee.ExitCode()
		}
	default:
		j.startErr = err
		j.exit = 255
	}
	if j.timedOut && j.exit == 0 && j.signal == 0 {
		j.exit = -1
	}
}

// killGroup ends a job's whole process group as GNU parallel does —
// TERM, 200 ms, TERM, 100 ms, TERM, 50 ms, KILL — until wait reports,
// within the time given, that the job has ended; false if it has not
// ended a minute after the KILL.
func killGroup(signal func(syscall.Signal), wait func(time.Duration) bool) bool {
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, 200 * time.Millisecond}, {syscall.SIGTERM, 100 * time.Millisecond}, {syscall.SIGTERM, 50 * time.Millisecond}, {syscall.SIGKILL, time.Minute}} {
		signal(step.sig)
		if wait(step.wait) {
			return true
		}
	}
	return false
}

func (r *runner) warnTimeout(j *job) {
	fmt.Fprintf(r.o.Stderr, "crew run: Warning: This job was killed because it timed out:\ncrew run: Warning: %s\n", j.cmd)
}

// argv returns the program and arguments for a command line: its words
// when it needs no shell, else the shell with -c.
func (r *runner) argv(cmd string) (string, []string) {
	if words, ok := splitWords(cmd); ok {
		if path, err := r.lookPath(words[0]); err == nil {
			return path, words
		}
	}
	return r.shell, []string{r.shell, "-c", cmd}
}

func (r *runner) lookPath(name string) (string, error) {
	if v, ok := r.paths.Load(name); ok {
		return v.(string), nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	r.paths.Store(name, p)
	return p, nil
}

// output prints a finished job's output, grouped, or its command for
// --dry-run. The caller holds outMu.
func (r *runner) output(j *job) {
	if r.o.DryRun {
		fmt.Fprintln(r.o.Stdout, j.cmd)
		return
	}
	if r.o.Results != "" {
		r.writeResults(j)
	}
	if r.o.LineBuffer {
		r.releaseLines(j) // -k: what was not printed live
		return
	}
	r.writeTagged(r.o.Stdout, j, j.stdout.Bytes())
	r.writeTagged(r.o.Stderr, j, j.stderr.Bytes())
}

func (r *runner) writeTagged(w io.Writer, j *job, b []byte) {
	if len(b) == 0 {
		return
	}
	if !r.o.Tag {
		w.Write(b)
		return
	}
	tag := strings.Join(j.args, " ") + "\t"
	var out bytes.Buffer
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line = b[:i+1]
		}
		out.WriteString(tag)
		out.Write(line)
		b = b[len(line):]
	}
	w.Write(out.Bytes())
}

// writeResults stores a job's output as DIR/<seq>/{stdout,stderr,cmd}:
// names made by crew, never from the arguments, so nothing lands outside DIR.
func (r *runner) writeResults(j *job) {
	dir := filepath.Join(r.o.Results, strconv.Itoa(j.seq))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(r.o.Stderr, "crew run: --results: %v\n", err)
		return
	}
	for name, data := range map[string][]byte{"stdout": j.stdout.Bytes(), "stderr": j.stderr.Bytes(), "cmd": []byte(j.cmd + "\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			fmt.Fprintf(r.o.Stderr, "crew run: --results: %v\n", err)
		}
	}
}

// logJob appends the job's joblog line with a single write, so that a
// crash of crew loses no line of a finished job.
func (r *runner) logJob(j *job) {
	if r.joblog == nil || r.o.DryRun {
		return
	}
	host := j.host
	if host == "" {
		host = ":" // GNU parallel's name for this machine
	}
	line := fmt.Sprintf("%d\t%s\t%.3f\t%10.3f\t%d\t%d\t%d\t%d\t%s\n",
		j.seq, host, float64(j.start.UnixMilli())/1000, j.runtime.Seconds(), len(j.stdin), j.received, j.exit, j.signal,
		strings.ReplaceAll(j.cmd, "\n", `\n`))
	if _, err := r.joblog.WriteString(line); err != nil {
		fmt.Fprintf(r.o.Stderr, "crew run: --joblog: %v\n", err)
	}
}

func (r *runner) checkHalt(j *job) *HaltError {
	h := r.o.Halt
	if h.Count == 0 && h.Percent == 0 {
		return nil
	}
	count, reason := r.progress.Failed, "failed"
	if h.OnSuccess {
		count, reason = r.progress.Done-r.progress.Failed, "succeeded"
	}
	if j.failed() == h.OnSuccess {
		return nil // this job did not change the count
	}
	hit := (h.Count > 0 && count >= h.Count) ||
		(h.Percent > 0 && float64(count)*100 >= h.Percent*float64(max(r.progress.Done, 1)) && r.progress.Done >= 3)
	if !hit {
		return nil
	}
	status := 0
	if !h.OnSuccess {
		status = j.exit
		if j.signal != 0 || status <= 0 {
			status = 1
		}
	}
	return &HaltError{Status: status, Command: j.cmd, Reason: reason}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return c.w.Write(b)
}

// lineOutput returns the writers for a --line-buffer job's stdout and
// stderr, which print whole lines as they come and, for --results, keep
// the output in the job too; and the function that prints the last
// partial lines once the job has ended.
func (r *runner) lineOutput(j *job) (stdout, stderr io.Writer, flush func()) {
	lo := &lineWriter{r: r, j: j, w: r.o.Stdout, held: &j.heldOut}
	le := &lineWriter{r: r, j: j, w: r.o.Stderr, held: &j.heldErr}
	flush = func() {
		lo.flush()
		le.flush()
	}
	if r.o.Results == "" {
		return lo, le, flush
	}
	return io.MultiWriter(lo, &j.stdout), io.MultiWriter(le, &j.stderr), flush
}

// lineWriter passes whole lines to w as they come (--line-buffer), tagged
// if asked; a partial last line waits for flush. With -k, lines of a job
// that is not the oldest unfinished one wait in held instead.
type lineWriter struct {
	r       *runner
	j       *job
	w       io.Writer
	held    *bytes.Buffer
	partial []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.partial = append(l.partial, b...)
	if i := bytes.LastIndexByte(l.partial, '\n'); i >= 0 {
		l.emit(l.partial[:i+1])
		l.partial = append(l.partial[:0], l.partial[i+1:]...)
	}
	return len(b), nil
}

func (l *lineWriter) flush() {
	if len(l.partial) > 0 {
		l.emit(l.partial)
		l.partial = nil
	}
}

// emit prints b, or holds it while an older job is unfinished (-k). Both
// happen under outMu, which flushHeld holds to make this job the oldest
// and print what it held: no line overtakes another.
func (l *lineWriter) emit(b []byte) {
	l.r.outMu.Lock()
	defer l.r.outMu.Unlock()
	if l.r.o.KeepOrder && l.j.seq != l.r.nextOut {
		l.held.Write(b)
		return
	}
	l.r.writeTagged(l.w, l.j, b)
}
