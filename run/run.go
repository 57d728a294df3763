package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crewrun/crew"
)

// Options configure Run. Command and Stdout are required; the zero value
// of every other field is GNU parallel's default.
type Options struct {
	// Command is the command template, as words. Empty, each input is a
	// command line of its own (GNU parallel without a command).
	Command      []string
	QuoteCommand bool         // -q: quote each command word whole once filled in: no word is shell syntax
	Replace      Replacements // -I, --plus, --rpl and the like
	Sources      []Source     // combined as a cartesian product; none means lines of Stdin
	Link         bool         // --link: read the sources in step instead, the shorter ones again from the start

	Null          bool   // -0: records end with NUL
	Delimiter     string // -d: records end with this string ("" is newline, or NUL with Null)
	EOF           string // -E: a record equal to this ends its source ("" is none)
	NoRunIfEmpty  bool   // -r: skip records of whitespace only
	Trim          string // --trim: n, l, r, lr or rl; "" is n, or lr with ColSep
	ColSep        string // a regular expression splitting each record into {1} {2} ...
	CSV           bool   // --csv: records are CSV, split at ColSep (default ,)
	Header        string // --header: ":" or a line count names the columns of each source, for {name}
	MaxArgs       int    // records per job (-n/-N); 0 means 1 (or as many as fit, with FillLine)
	NoArgs        bool   // -N0, -n0, -L0: a job reads one record and uses none of it
	MaxLines      int    // -L, -l: a record ending in whitespace continues on the next line
	Context       bool   // -X (and -N, -L): a word holding {} is repeated for each argument
	FillLine      bool   // -X, -m, --xargs: as many records per job as the command line holds
	Spread        bool   // -X, -m: the last records are spread over Jobs jobs
	MaxChars      int    // -s: the longest command line -X/-m/--xargs make
	Shuffle       bool   // --shuf: read all the input, then run the jobs in random order
	Filter        []string
	SkipFirstLine bool // ignore the first line of the (first) input

	Pipe         bool   // --pipe: split Stdin into blocks fed to the jobs' standard input
	PipePart     bool   // --pipe-part: split the :::: files, which must be seekable
	RoundRobin   bool   // --round-robin: Jobs jobs in all, each fed blocks in turn
	BlockSize    int64  // --pipe block size in bytes; 0 means 1 MiB
	RecStart     string // --recstart: where a record starts ("" is anywhere)
	RecEnd       string // --recend: where a record ends; RecEndSet false means newline
	RecEndSet    bool
	Regexp       bool // --regexp: RecStart and RecEnd are regular expressions
	RemoveRecSep bool // --remove-rec-sep
	Tee          bool // --tee: all of standard input to every job
	Cat          bool // --cat: {} is a file holding the block
	Fifo         bool // --fifo: {} is a named pipe the block comes through

	Jobs        int    // jobs at once; 0 means 1
	JobsFile    string // -j FILE: the job count is read from this file, again when it changes
	KeepOrder   bool   // -k: print output in input order
	LineBuffer  bool   // print output line by line as it comes (lines of jobs may mix; with KeepOrder, see Run)
	Ungroup     bool   // -u: jobs write straight to Stdout and Stderr, lines of jobs may mix
	Tag         bool   // prefix output lines with the job's arguments and a tab
	TagString   string // --tagstring: prefix output lines with this (replacement strings filled in) and a tab
	DryRun      bool   // print the commands instead of running them
	Verbose     bool   // -v: print each command on Stdout before its output
	VeryVerbose bool   // -vv: with PipePart, print the command as GNU parallel shows it: its perl reading the job's byte ranges
	PrintCmd    bool   // -t: print each command on Stderr when it starts
	Interactive bool   // -p: ask on /dev/tty before each job
	Files       bool   // --files: save each job's stdout in a file, print its name
	TmpDir      string // --tmpdir: where --files and --cat put their files ("" is $TMPDIR or /tmp)
	ShellQuote  int    // --shellquote: print each command quoted this many times instead of running it

	JobLog       string // a GNU parallel joblog; "+FILE" appends, "-" is Stdout
	Resume       bool   // skip jobs already in JobLog (or Results)
	ResumeFailed bool   // skip jobs in JobLog that succeeded; rerun the failed ones
	RetryFailed  bool   // run again the failed commands of JobLog, ignoring Command and Sources
	Retries      int    // attempts per job (GNU parallel's --retries); 0 means 1
	Timeout      time.Duration
	TimeoutPct   float64    // --timeout N%: kill a job running N% of the median run time of the jobs that succeeded
	TermSeq      []TermStep // how a job is killed; nil is TERM,200,TERM,100,TERM,50,KILL,25
	Halt         Halt
	Delay        time.Duration // between job starts
	Results      string        // --results: a directory, a file name with replacement strings, or X.csv, X.tsv, X.json
	MemFree      int64         // --memfree: start a job only with this much memory free; kill the youngest below half
	Load         float64       // --load: start a job only while the load average is below this
	Nice         int           // --nice: run jobs at this niceness
	Env          []string      // --env: variables sent along with jobs run on Executor (locally, jobs inherit the environment)
	SlotVar      string        // --process-slot-var: this variable holds the job slot - 1 (PARALLEL_JOBSLOT0 as well)
	Workdir      string        // --workdir: run jobs in this directory (replacement strings filled in)
	StdinTTY     bool          // --tty, --open-tty: jobs read /dev/tty
	TotalJobs    int           // --total-jobs: the total for Progress, instead of reading all the input
	JobStdin     bool          // jobs read Stdin (sem: the one job does)
	// SingleJobStatus: Run's error for a failed job is a *HaltError with
	// its status (its exit status, or 128 + its signal), as sem's.
	SingleJobStatus bool
	Shell           string // the shell for commands that need one; default /bin/sh
	Stdin           io.Reader
	Stdout          io.Writer
	Stderr          io.Writer
	Progress        func(Progress) // called after each job; for --bar and --eta
	NeedTotal       bool           // read all the input before starting, so Progress has the total (--bar, --eta)

	// Executor, if set, runs each job's command line as the Shell task on
	// that executor's workers (crew run --cluster), which must have called
	// AllowShell(true). Input, ordering, output, the joblog and --halt stay
	// in this process; --line-buffer prints a remote job's lines when it ends.
	Executor crew.Executor
}

// Progress counts jobs for a progress display.
type Progress struct {
	Started, Done, Failed int
	Running               int
	Total                 int // -1 while unknown
	Elapsed               time.Duration
}

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

func newRunner(o Options) (*runner, error) {
	if o.Stdout == nil || o.Stderr == nil {
		return nil, errors.New("run: Stdout and Stderr are required")
	}
	if o.Stdin == nil {
		o.Stdin = strings.NewReader("")
	}
	o.Jobs = max(o.Jobs, 1)
	o.Retries = max(o.Retries, 1)
	if o.Tag && o.TagString == "" {
		o.TagString = "{==}" // filled in below with the real parentheses
	}
	r := &runner{o: o, shell: o.Shell, total: -1, maxJobs: o.Jobs}
	if r.shell == "" {
		r.shell = defaultShell
	}
	if o.RetryFailed {
		if err := r.retryFailedSources(); err != nil {
			return nil, err
		}
	}
	rs, err := newRplSet(o.Replace)
	if err != nil {
		return nil, err
	}
	if r.o.TagString == "{==}" {
		r.o.TagString = rs.left + rs.right
	}
	trim := o.Trim
	if trim == "" {
		trim = "n"
		if o.ColSep != "" {
			trim = "lr"
		}
	}
	switch trim {
	case "n", "l", "r", "lr", "rl":
	default:
		return nil, fmt.Errorf("--trim %q: want n, l, r, lr or rl", o.Trim)
	}
	r.ev = newEvaluator(trim, o.Jobs)
	if err := r.setupInput(); err != nil {
		r.close()
		return nil, err
	}
	if err := r.parseTemplates(rs); err != nil {
		r.close()
		return nil, err
	}
	if err := r.prepare(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// setupInput opens the sources and reads the --header names.
func (r *runner) setupInput() error {
	o := &r.o
	delim := o.Delimiter
	if delim == "" {
		delim = recordSep(o.Null)
	}
	r.in = inputSpec{
		sources: o.Sources, stdin: o.Stdin, link: o.Link, noArg: o.NoArgs,
		format: recordFormat{delim: delim, eof: o.EOF, hasEOF: o.EOF != "", ignoreEmpty: o.NoRunIfEmpty,
			continued: o.MaxLines > 0, csv: o.CSV},
	}
	colsep := o.ColSep
	if o.CSV {
		sep := colsep
		if sep == "" {
			sep = ","
		}
		if len([]rune(sep)) != 1 {
			return fmt.Errorf("--csv: the column separator must be one character, not %q", sep)
		}
		r.in.cols = columns{csv: true, csvSep: []rune(sep)[0]}
	} else {
		if colsep == "" && o.Header != "" && !o.Pipe {
			colsep = "\t"
		}
		if colsep != "" {
			re, err := regexp.Compile(colsep)
			if err != nil {
				return fmt.Errorf("--colsep %q: crew reads it as a Go regular expression: %w", colsep, err)
			}
			r.in.cols.colsep = re
		}
	}
	for _, s := range o.Sources {
		if err := s.check(); err != nil {
			return err
		}
	}
	if (o.Pipe && !o.Tee) || o.PipePart {
		return nil
	}
	if len(r.in.sources) == 0 && !o.Tee {
		r.in.sources = []Source{File("-")}
	}
	for _, s := range r.in.sources {
		rr, err := s.open(o.Stdin, r.in.format)
		if err != nil {
			return fmt.Errorf("input file: %w", err)
		}
		r.readers = append(r.readers, rr)
	}
	if o.SkipFirstLine {
		if _, err := r.readers[0].line(); err != nil && err != io.EOF {
			return sourceErr(0, err)
		}
	}
	return nil
}

// headerNames reads the --header line of each source (or, for --header
// 0, takes the :::: files' names) as column names.
func (r *runner) headerNames() ([]string, error) {
	if r.o.Header == "" || len(r.readers) == 0 {
		return nil, nil
	}
	var names []string
	for i, s := range r.in.sources {
		if r.o.Header == "0" {
			if s.kind == fileSource {
				names = append(names, s.path)
			} else {
				names = append(names, strconv.Itoa(i+1))
			}
			continue
		}
		line, err := r.readers[i].headerLine()
		if err != nil {
			return nil, sourceErr(i, err)
		}
		names = append(names, r.in.cols.splitHeader(line)...)
	}
	return names, nil
}

func (r *runner) parseTemplates(rs *rplSet) error {
	o := &r.o
	header, err := r.headerNames()
	if err != nil {
		return err
	}
	r.in.header = header
	topt := templateOptions{quoteWords: o.QuoteCommand, context: o.Context, header: header,
		noAppend: (o.Pipe || o.PipePart) && !o.Tee && !o.Cat && !o.Fifo}
	if r.tmpl, err = parseTemplate(o.Command, rs, topt); err != nil {
		return err
	}
	r.quoteArg = r.tmpl.quoteArgs && !r.tmpl.quoteWords && !o.Cat && !o.Fifo
	plain := templateOptions{noAppend: true, header: header}
	if o.TagString != "" {
		if r.tagTmpl, err = parseTemplate([]string{UnquotePrintf(o.TagString)}, rs, plain); err != nil {
			return err
		}
	}
	if o.Results != "" {
		t, err := parseTemplate([]string{o.Results}, rs, plain)
		if err != nil {
			return err
		}
		if len(t.exprs) > 0 {
			r.resTmpl = t
		}
	}
	if o.Workdir != "" && o.Workdir != "." {
		if r.wdTmpl, err = parseTemplate([]string{o.Workdir}, rs, plain); err != nil {
			return err
		}
	}
	for _, f := range o.Filter {
		t, err := parseTemplate([]string{f}, rs, plain)
		if err != nil {
			return err
		}
		r.filters = append(r.filters, t)
	}
	for _, t := range r.templates() {
		if err := r.ev.prepare(t); err != nil {
			return err
		}
	}
	return nil
}

// streamsFor is the run's streamed-job pipes, made on first use.
func (r *runner) streamsFor() *streams {
	if r.streams == nil {
		r.streams = &streams{}
	}
	return r.streams
}

func (r *runner) templates() []*Template {
	ts := []*Template{r.tmpl}
	for _, t := range append([]*Template{r.tagTmpl, r.resTmpl, r.wdTmpl}, r.filters...) {
		if t != nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// prepare does what must happen before the first job: the total, the
// joblog, --results, the limits on starting jobs.
func (r *runner) prepare() error {
	o := &r.o
	r.fill = o.FillLine
	if r.fill || o.MaxChars > 0 {
		r.maxLen = r.maxLength()
	}
	needTotal := o.NeedTotal || o.Shuffle || o.Halt.Percent > 0
	for _, t := range r.templates() {
		r.needTotal = r.needTotal || t.needsTotal
	}
	needTotal = needTotal || r.needTotal
	if o.TotalJobs > 0 {
		r.total = o.TotalJobs
		needTotal = o.Shuffle
	}
	if len(r.readers) > 0 {
		allLists := true
		for _, s := range r.in.sources {
			allLists = allLists && s.isList()
		}
		if needTotal || allLists {
			if err := r.readAllRecords(); err != nil {
				return err
			}
		}
	}
	if o.JobLog != "" && !o.DryRun {
		if err := r.openJobLog(); err != nil {
			return err
		}
	} else if o.Resume || o.ResumeFailed {
		r.done = map[int]bool{}
	}
	if o.Results != "" && !o.DryRun {
		w, err := newResultsWriter(r)
		if err != nil {
			return err
		}
		r.results = w
	}
	var err error
	if r.limits, err = newLimiter(o); err != nil {
		return err
	}
	if (o.Pipe && !o.Tee) || o.PipePart {
		if r.pipe, err = newBlockSplitter(r); err != nil {
			return err
		}
	}
	// --line-buffer prints output as it comes, --pipe feeds standard
	// input, -u passes the output straight on: all need os/exec.
	usesSlot := false
	for _, t := range r.templates() {
		usesSlot = usesSlot || t.usesSlot()
	}
	if o.Halt.enabled() || usesSlot {
		r.reap = newReapOrder()
	}
	if !o.LineBuffer && !o.Pipe && !o.PipePart && !o.DryRun && !o.Ungroup && o.Nice == 0 && !o.StdinTTY && !o.JobStdin {
		_ = r.openDirect() // if it fails, jobs run with os/exec
	}
	return nil
}

func (r *runner) close() {
	r.closeDirect()
	if r.joblogFile != nil {
		r.joblogFile.Close()
	}
	for _, rr := range r.readers {
		rr.close()
	}
	if r.results != nil {
		r.results.close()
	}
	if r.ev != nil {
		r.ev.close()
	}
	if r.pipe != nil {
		r.pipe.close()
	}
}

// newEnv is what the replacement strings of a job see.
func (r *runner) newEnv(seq int, j *job) *evalEnv {
	e := &evalEnv{seq: seq, maxJobs: r.maxJobs, total: r.totalJobs, needTotal: r.needTotal}
	if j != nil {
		e.slot, e.args = j.slot, j.args
	}
	return e
}

// totalJobs is the number of jobs, for {##} and total_jobs(): known when
// the input was read first (a template using it makes sure of that).
func (r *runner) totalJobs() int {
	return max(r.total, 0)
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

// slotGoroutines is how many goroutines take jobs: Jobs, or with -j FILE
// the most it may ever allow (the limiter holds back the rest).
func (r *runner) slotGoroutines() iter.Seq[int] {
	n := r.o.Jobs
	if r.limits != nil && r.limits.jobsFile != "" {
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
		r.lastStart = time.Now()
		r.started.Add(1)
		j.slot = r.takeSlot()
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
		r.freeSlots = r.freeSlots[1:]
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
