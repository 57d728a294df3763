package run

import (
	"io"
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
