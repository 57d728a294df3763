package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/run"
)

const runLong = `crew run runs a command once per input, many at once, with GNU parallel's syntax:

  crew run [options] COMMAND [ARGS...] ::: VALUES...  [::: VALUES...]  [:::: FILES...]
  crew run [options] COMMAND < inputs.txt

Inputs come from ::: lists, :::: files (one argument per line; - is standard input),
-a FILE, or standard input. Several sources combine as a cartesian product.

Replacement strings in the command:
  {}    the argument            {.}   without extension      {/}   basename
  {//}  dirname                 {/.}  basename without ext   {#}   job number
  {%}   job slot                {n}   argument n (source or --colsep column), also {n.} {n/} {n//} {n/.}
Without replacement strings the arguments are appended. Arguments are shell-quoted as GNU
parallel quotes them, so spaces, quotes, $, * and newlines in them are safe.

Output is grouped: each job's output is printed whole when it ends (-k: in input order).
Jobs run with /bin/sh -c, or directly when the command line needs no shell (faster).

Exit status, as GNU parallel: 0 all jobs succeeded; 1-100 that many jobs failed; 101 more
than 100 failed; with --halt, the status of the job that stopped the run; 130 interrupted
(crew's convention; GNU parallel exits 255); 255 bad options or input.

Remote execution: --cluster nats://HOST:4222 sends each job's command line to the crew workers
of that server (crew serve; crew worker --allow-shell on each machine), -j at a time across the
cluster. Inputs, ordering (-k), grouped output, the joblog (its Host column names the worker's
machine), --halt and --retries stay here; a worker started without --allow-shell refuses the
jobs. --token or --nkey and --tls-ca/--tls-cert/--tls-key authenticate as for crew worker.
--cluster embedded runs an in-process server and workers (for trying it out).

Differences from GNU parallel: remote execution is --cluster, not --sshlogin; no {= perl =}
strings, no -X, --timeout takes seconds only, and --results writes
DIR/<job number>/{stdout,stderr,cmd}.`

const runExamples = `  crew run gzip -9 ::: *.log
  crew run -j 8 -k 'convert {} -resize 50% small/{/.}.png' ::: *.jpg
  find . -name '*.csv' | crew run --joblog jobs.tsv wc -l
  crew run --resume-failed --joblog jobs.tsv wc -l :::: files.txt
  crew run --dry-run echo {1} {2} ::: a b ::: 1 2
  seq 1000000 | crew run --pipe --block 1M wc -l
  crew run --cluster nats://10.0.0.5:4222 --token s3cret -j 32 -k ./render.sh {} ::: frames/*`

func newRunCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:                "run [options] COMMAND [ARGS...] [::: VALUES...] [:::: FILES...]",
		Short:              "Run a command for each input, in parallel (GNU parallel syntax)",
		Long:               runLong,
		Example:            runExamples,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "-h" || a == "--help" {
					return cmd.Help()
				}
				if !strings.HasPrefix(a, "-") {
					break
				}
			}
			return runRun(cmd.Context(), s, args)
		},
	}
	cmd.SetHelpFunc(func(cmd *cobra.Command, _ []string) {
		var f runFlags
		fmt.Fprintf(cmd.OutOrStdout(), "%s\n\nUsage:\n  crew %s\n\nOptions:\n%s\nExamples:\n%s\n",
			cmd.Long, cmd.Use, f.set().FlagUsages(), cmd.Example)
	})
	return cmd
}

// runUsage wraps a usage error in GNU parallel's exit status 255.
func runUsage(format string, args ...any) error {
	return exitStatus{code: 255, err: fmt.Errorf(format, args...)}
}

// runFlags are crew run's options, parsed by hand because GNU parallel's
// syntax (options, then a command, then ::: groups) is not cobra's.
type runFlags struct {
	jobs                                          string
	keep, lineBuf, tag, dry, null, quote          bool
	argFiles                                      []string
	colsep, joblog, timeout, halt, delay, results string
	maxArgs, maxReplace, retries                  int
	resume, resumeFailed, pipe, bar, eta          bool
	block                                         string
	cluster                                       string
	auth                                          clusterAuth
}

func (f *runFlags) set() *pflag.FlagSet {
	fs := pflag.NewFlagSet("crew run", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.SetOutput(io.Discard)
	fs.StringVarP(&f.jobs, "jobs", "j", "100%", "jobs at once: N, 0 (many), N% of CPUs, +N or -N CPUs")
	fs.BoolVarP(&f.keep, "keep-order", "k", false, "print output in input order")
	fs.BoolVar(&f.lineBuf, "line-buffer", false, "print output line by line as it comes (-k: the oldest job's live, later ones' in turn)")
	fs.BoolVar(&f.lineBuf, "lb", false, "same as --line-buffer")
	fs.BoolVar(&f.tag, "tag", false, "prefix output lines with the arguments")
	fs.BoolVar(&f.dry, "dry-run", false, "print the commands, run nothing")
	fs.StringArrayVarP(&f.argFiles, "arg-file", "a", nil, "read arguments from FILE (repeatable)")
	fs.BoolVarP(&f.null, "null", "0", false, "records end with NUL, not newline")
	fs.StringVarP(&f.colsep, "colsep", "C", "", "split records into columns {1} {2} ... by this regexp")
	fs.IntVarP(&f.maxArgs, "max-args", "n", 0, "arguments per job")
	fs.IntVarP(&f.maxReplace, "max-replace-args", "N", 0, "arguments per job, as {1} {2} ...")
	fs.BoolVarP(&f.quote, "quote", "q", false, "quote the command, for commands with their own quoting")
	fs.StringVar(&f.joblog, "joblog", "", "log each job to FILE in GNU parallel's format")
	fs.BoolVar(&f.resume, "resume", false, "skip jobs already in --joblog")
	fs.BoolVar(&f.resumeFailed, "resume-failed", false, "skip jobs in --joblog that succeeded; rerun failed ones")
	fs.IntVar(&f.retries, "retries", 0, "run a failing job up to N times")
	fs.StringVar(&f.timeout, "timeout", "", "kill a job's process group after SECS seconds")
	fs.StringVar(&f.halt, "halt", "never", "stop early: now|soon,fail|success=N or N%")
	fs.StringVar(&f.delay, "delay", "", "wait SECS seconds between job starts")
	fs.StringVar(&f.results, "results", "", "save each job's stdout and stderr under DIR")
	fs.BoolVar(&f.pipe, "pipe", false, "split standard input into blocks, one per job's standard input")
	fs.StringVar(&f.block, "block", "1M", "--pipe block size (k, M, G suffixes)")
	fs.BoolVar(&f.bar, "bar", false, "show a progress bar on stderr")
	fs.BoolVar(&f.eta, "eta", false, "show progress and the estimated time left on stderr")
	fs.StringVar(&f.cluster, "cluster", "", "run the jobs on the crew workers of the server at `URL` (nats://host:4222)")
	f.auth.register(fs)
	return fs
}

func runRun(ctx context.Context, s Streams, args []string) error {
	var f runFlags
	fs := f.set()
	if err := fs.Parse(args); err != nil {
		return runUsage("%v (see crew run --help)", err)
	}
	rest := fs.Args()
	o := run.Options{
		KeepOrder: f.keep, LineBuffer: f.lineBuf, Tag: f.tag, DryRun: f.dry, Null: f.null, ColSep: f.colsep,
		QuoteCommand: f.quote, JobLog: f.joblog, Resume: f.resume, ResumeFailed: f.resumeFailed,
		Retries: f.retries, Results: f.results, Pipe: f.pipe,
		Stdin: s.In, Stdout: s.Out, Stderr: s.Err,
	}
	var err error
	if o.Jobs, err = parseJobs(f.jobs); err != nil {
		return runUsage("-j %q: %v", f.jobs, err)
	}
	o.MaxArgs = max(f.maxArgs, f.maxReplace)
	if f.maxArgs < 0 || f.maxReplace < 0 || f.retries < 0 {
		return runUsage("-n, -N and --retries must not be negative")
	}
	if o.Timeout, err = parseSeconds(f.timeout); err != nil {
		return runUsage("--timeout %q: %v", f.timeout, err)
	}
	if o.Delay, err = parseSeconds(f.delay); err != nil {
		return runUsage("--delay %q: %v", f.delay, err)
	}
	if o.Halt, err = run.ParseHalt(f.halt); err != nil {
		return runUsage("%v", err)
	}
	block, err := parseSize(f.block)
	if err != nil || block > 1<<30 {
		return runUsage("--block %q: want a size up to 1G, like 512K or 1M", f.block)
	}
	o.BlockSize = int(block)
	if (f.resume || f.resumeFailed) && f.joblog == "" {
		return runUsage("--resume and --resume-failed need --joblog FILE")
	}
	// The command runs up to the first ::: or ::::.
	i := 0
	for i < len(rest) && rest[i] != ":::" && rest[i] != "::::" {
		i++
	}
	o.Command = rest[:i]
	if len(o.Command) == 0 {
		return runUsage("no command given (see crew run --help)")
	}
	for i < len(rest) {
		marker := rest[i]
		j := i + 1
		for j < len(rest) && rest[j] != ":::" && rest[j] != "::::" {
			j++
		}
		values := rest[i+1 : j]
		if len(values) == 0 {
			return runUsage("%s with nothing after it", marker)
		}
		if marker == ":::" {
			o.Sources = append(o.Sources, run.Args(values...))
		} else {
			for _, f := range values {
				if err := checkArgFile(marker, f); err != nil {
					return err
				}
				o.Sources = append(o.Sources, run.File(f))
			}
		}
		i = j
	}
	for _, f := range f.argFiles {
		if err := checkArgFile("-a", f); err != nil {
			return err
		}
		o.Sources = append(o.Sources, run.File(f))
	}
	if f.pipe && len(o.Sources) > 0 {
		return runUsage("--pipe reads standard input: it takes no ::: or :::: sources")
	}
	if f.bar || f.eta {
		o.Progress = progressPrinter(s, f.eta)
	}
	if f.cluster != "" && !f.dry {
		ex, err := f.auth.executor(ctx, s.Err, f.cluster, o.Jobs, cluster.Label("crew run "+strings.Join(o.Command, " ")), cluster.CountAsFailed(shellFailure))
		if err != nil {
			return runUsage("--cluster: %v", err)
		}
		defer ex.Close()
		if f.cluster == "embedded" {
			run.AllowShell(true) // the workers are this process
		}
		o.Executor = ex
	}
	err = run.Run(ctx, o)
	if f.bar || f.eta {
		fmt.Fprintln(s.Err)
	}
	var failed *run.FailedError
	var halted *run.HaltError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &failed):
		return exitStatus{code: failed.ExitStatus(), err: errQuiet}
	case errors.As(err, &halted):
		return exitStatus{code: halted.Status, err: errQuiet}
	case ctx.Err() != nil: // interrupted: the status, 130, says so
		return exitStatus{code: exitInterrupted, err: errQuiet}
	default: // bad options or input, unreadable files: GNU parallel's 255
		return exitStatus{code: 255, err: err}
	}
}

// checkArgFile refuses a file of arguments (given after :::: or with -a,
// named by flag) that is missing or a directory, before any job runs: read
// as a file, a directory fails only once jobs may have started.
func checkArgFile(flag, path string) error {
	if path == "-" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return runUsage("%s %s: %w", flag, path, err)
	}
	if fi.IsDir() {
		return runUsage("%s %s: is a directory, not a file of arguments", flag, path)
	}
	return nil
}

// parseJobs reads -j: N, 0 (as many as possible), N% of the CPUs, +N or -N CPUs.
func parseJobs(s string) (int, error) {
	cpus := runtime.NumCPU()
	switch {
	case strings.HasSuffix(s, "%"):
		p, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || p <= 0 {
			return 0, errors.New("want a positive percentage")
		}
		return max(1, int(float64(cpus)*p/100)), nil
	case strings.HasPrefix(s, "+"), strings.HasPrefix(s, "-"):
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, errors.New("want +N or -N")
		}
		return max(1, cpus+n), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("want a whole number ≥ 0, N%, +N or -N")
	}
	if n == 0 {
		return 256, nil // "as many as possible": bounded so that file handles last
	}
	return n, nil
}

// parseSeconds reads --timeout and --delay: seconds, a fraction allowed.
// NaN, infinities and counts beyond time.Duration's 292 years are refused:
// converted, they would wrap around to a negative duration, which means
// no timeout at all.
func parseSeconds(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0) || math.IsInf(f, 1) {
		return 0, errors.New("want a number of seconds ≥ 0")
	}
	if f > float64(math.MaxInt64/time.Second) {
		return 0, fmt.Errorf("want at most %d seconds", math.MaxInt64/time.Second)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// progressPrinter draws --bar / --eta on stderr: one line rewritten in
// place on a terminal, a line per 10% otherwise.
func progressPrinter(s Streams, eta bool) func(run.Progress) {
	f, ok := s.Err.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	lastDecile := -1
	return func(p run.Progress) {
		line := fmt.Sprintf("%d done, %d failed, %s", p.Done, p.Failed, p.Elapsed.Round(time.Second))
		if p.Total > 0 {
			pct := 100 * p.Done / p.Total
			line = fmt.Sprintf("%3d%% %d/%d done, %d failed", pct, p.Done, p.Total, p.Failed)
			if eta && p.Done > 0 {
				left := time.Duration(float64(p.Elapsed) / float64(p.Done) * float64(p.Total-p.Done))
				line += fmt.Sprintf(", ETA %s", left.Round(time.Second))
			}
			if !tty {
				if d := pct / 10; d == lastDecile {
					return
				} else {
					lastDecile = d
				}
			}
		}
		if tty {
			fmt.Fprintf(s.Err, "\r%s\033[K", line)
		} else if p.Total > 0 || p.Done%1000 == 0 {
			fmt.Fprintln(s.Err, line)
		}
	}
}
