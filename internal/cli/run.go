package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/run"
)

const runLongHelp = `crew run runs a command once per input, many at once, with GNU parallel's syntax:

  crew run [options] COMMAND [ARGS...] ::: VALUES...  [:::+ VALUES...] [:::: FILES...] [::::+ FILES...]
  crew run [options] COMMAND < inputs.txt
  crew run [options] < commands.txt           (no command: each input is a command line)
  crew run [options] ::: 'cmd1 a' 'cmd2 b'

Inputs come from ::: lists, :::: files (one argument per line; - is standard input),
-a FILE, or standard input. Several sources combine as a cartesian product; :::+ and ::::+
pair a source with the one before it, --link reads them all in step.

Replacement strings in the command (GNU parallel's; -I and --*replace rename them):
  {}    the argument            {.}   without extension      {/}   basename
  {//}  dirname                 {/.}  basename without ext   {#}   job number
  {%}   job slot                {n}   argument n (source or --colsep column), also {n.} {n/} {n//} {n/.}, {-1}
  {= perl =}  the argument after the Perl code ran on $_ (needs perl on PATH), {=n perl =} for argument n
  --plus: {..} {...} {+/} {+.} {+..} {##} {0#} {0%} {:-x} {:n} {:n:m} {#re} {%re} {/re/x} {^x} {,x} ...
  --header : names the columns: {name}
Without replacement strings the arguments are appended. Arguments are shell-quoted as GNU
parallel quotes them (not when the command starts with a replacement string).

Output is grouped: each job's output is printed whole when it ends (-k: in input order;
-u: as it comes; --line-buffer: line by line). Jobs run directly when the command line
needs no shell, else with the shell crew was started from ($PARALLEL_SHELL, the parent
shell, $SHELL or /bin/sh), each in a process group of its own, with $PARALLEL_SEQ and
$PARALLEL_JOBSLOT set.

Exit status, as GNU parallel: 0 all jobs succeeded; 1-100 that many jobs failed; 101 more
than 100 failed; with --halt, the status GNU parallel gives (the job's for fail=1, the
number or percentage failed otherwise); 130 interrupted (crew's convention; GNU parallel
exits 255); 255 bad options or input.

Remote execution: --cluster nats://HOST:4222 sends each job's command line to the crew workers
of that server (crew serve; crew worker --allow-shell on each machine), -j at a time across the
cluster. Inputs, ordering (-k), grouped output, the joblog (its Host column names the worker's
machine), --halt and --retries stay here; a worker started without --allow-shell refuses the
jobs. --token or --nkey and --tls-ca/--tls-cert/--tls-key authenticate as for crew worker.
--cluster embedded runs an in-process server and workers (for trying it out). GNU parallel's
-S/--sshlogin and the other ssh options are refused.

Every GNU parallel option is read; docs/parallel-compat.md says, option by option, which
behave the same, which differ and how, and which are refused and why. In short: no ssh
(use --cluster), no SQL, tmux, colours, --shard/--bin/--group-by, --template, --limit,
--memsuspend, --block-timeout; {= perl =} and --rpl need perl on PATH; --load and --memfree
work on Linux only; -j 0 means 256 jobs.`

const runExamples = `  crew run gzip -9 ::: *.log
  crew run -j 8 -k 'convert {} -resize 50% small/{/.}.png' ::: *.jpg
  find . -name '*.csv' | crew run --joblog jobs.tsv wc -l
  crew run --resume-failed --joblog jobs.tsv wc -l :::: files.txt
  crew run --dry-run echo {1} {2} ::: a b ::: 1 2
  crew run echo {1} {2} ::: a b c :::+ 1 2 3
  crew run -X rm -- {} :::: old-files.txt
  crew run --plus 'mv {} {..}.tar.gz' ::: *.tgz
  crew run < commands.txt
  seq 1000000 | crew run --pipe --block 1M wc -l
  crew run --cluster nats://10.0.0.5:4222 --token s3cret -j 32 -k ./render.sh {} ::: frames/*`

func newRunCommand(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:                "run [options] [COMMAND [ARGS...]] [::: VALUES...] [:::: FILES...]",
		Short:              "Run a command for each input, in parallel (GNU parallel syntax)",
		Long:               runLongHelp,
		Example:            runExamples,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), s, args, cmd)
		},
	}
	cmd.SetHelpFunc(func(cmd *cobra.Command, _ []string) {
		fmt.Fprintf(cmd.OutOrStdout(), "%s\n\nUsage:\n  crew %s\n\nOptions:\n%s\nExamples:\n%s\n",
			cmd.Long, cmd.Use, runOptionsHelp(), cmd.Example)
	})
	return cmd
}

// runOptionsHelp lists the options with help text.
func runOptionsHelp() string {
	var b strings.Builder
	for i := range runOptions {
		o := &runOptions[i]
		if o.help == "" {
			continue
		}
		var names []string
		if o.short != 0 {
			names = append(names, "-"+string(o.short))
		}
		for k, n := range o.names {
			if k == 0 || len(n) > 3 && k < 2 {
				names = append(names, "--"+n)
			}
		}
		left := strings.Join(names, ", ")
		if o.arg != "" {
			left += " " + o.arg
		}
		if len(left) < 30 {
			fmt.Fprintf(&b, "  %-30s %s\n", left, o.help)
		} else {
			fmt.Fprintf(&b, "  %s\n  %-30s %s\n", left, "", o.help)
		}
	}
	return b.String()
}

// runUsage wraps a usage error in GNU parallel's exit status 255.
func runUsage(format string, args ...any) error {
	return exitStatus{code: 255, err: fmt.Errorf(format, args...)}
}

// runFlags are crew run's options as read from the command line.
type runFlags struct {
	argFiles                                   []string
	null, noRunIfEmpty, link, csv, shuf        bool
	skipFirstLine                              bool
	delim                                      string
	delimSet                                   bool
	eof, argSep, argFileSep, colsep, header    string
	trim                                       string
	filter                                     []string
	maxArgs, maxReplace, maxLines, maxChars    string
	maxArgsSet, maxReplaceSet, maxLinesSet     bool
	contextX, multi, xargs                     bool
	replace                                    run.Replacements
	quote                                      bool
	jobs, cpuCount                             string
	delay, timeout, termSeq, retries, halt     string
	load, memFree, nice                        string
	env                                        []string
	slotVar, workdir                           string
	tty, openTTY, interactive                  bool
	keep, noKeep, group, ungroup, lineBuf, tag bool
	tagString                                  string
	printCmd                                   bool
	verbose                                    int
	dry, files                                 bool
	tmpdir, results, joblog                    string
	resume, resumeFailed, retryFailed          bool
	progress, bar, eta                         bool
	totalJobs                                  string
	shellQuote                                 int
	pipe, pipePart, regexp, rrs, roundRobin    bool
	tee, cat, fifo                             bool
	block, recStart, recEnd                    string
	recStartSet, recEndSet                     bool
	semaphore, fg, bg, wait                    bool
	semName, semTimeout                        string
	help, version, showLimits                  bool
	minVersion, info                           string
	cluster                                    string
	auth                                       clusterAuth
}

func runRun(ctx context.Context, s Streams, args []string, cmd *cobra.Command) error {
	if len(args) > 1 && (strings.HasPrefix(args[0], "--shebang") || strings.HasPrefix(args[0], "--hashbang")) {
		args = shebangArgs(args)
	}
	src, err := readOptionSources(args)
	if err != nil {
		return runUsage("%v", err)
	}
	var f runFlags
	rest, err := src.parse(&f)
	if err != nil {
		return runUsage("%v (see crew run --help)", err)
	}
	if f.help {
		return cmd.Help()
	}
	if done, err := f.information(s); done {
		return err
	}
	if f.semaphore {
		return runSemaphore(ctx, s, &f, rest, args)
	}
	o, err := f.options(s, rest)
	if err != nil {
		return err
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
	progress := f.progress || f.bar || f.eta
	if progress {
		o.Progress = progressPrinter(s, f.eta)
		o.NeedTotal = f.totalJobs == "" && !o.Pipe && !o.PipePart
	}
	err = run.Run(ctx, o)
	if progress {
		fmt.Fprintln(s.Err)
	}
	return runExit(ctx, err)
}

// runExit maps run.Run's result to GNU parallel's exit status.
func runExit(ctx context.Context, err error) error {
	var failed *run.FailedError
	var halted *run.HaltError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &failed):
		return exitStatus{code: failed.ExitStatus(), err: errQuiet}
	case errors.As(err, &halted):
		return exitStatus{code: halted.Status & 0xff, err: errQuiet}
	case ctx.Err() != nil: // interrupted: the status, 130, says so
		return exitStatus{code: exitInterrupted, err: errQuiet}
	default: // bad options or input, unreadable files: GNU parallel's 255
		return exitStatus{code: 255, err: err}
	}
}

// information handles the options that print something and exit.
func (f *runFlags) information(s Streams) (bool, error) {
	switch {
	case f.version:
		fmt.Fprintf(s.Out, "crew %s (follows GNU parallel 20221122)\n", version)
		return true, nil
	case f.minVersion != "":
		fmt.Fprintln(s.Out, gnuVersion)
		v, err := strconv.Atoi(f.minVersion)
		if err != nil {
			return true, runUsage("--minversion %q: want a version like 20221122", f.minVersion)
		}
		if gnuVersion < v {
			return true, exitStatus{code: 255, err: errQuiet}
		}
		return true, nil
	case f.showLimits:
		n := run.MaxLineLength()
		fmt.Fprintf(s.Out, "Maximal size of command: %d\nMaximal usable size of command: %d\n", n, (n-3000)/2)
		return false, nil
	}
	c := run.CPUs()
	switch f.info {
	case "":
		return false, nil
	case "cores":
		fmt.Fprintln(s.Out, c.Cores)
	case "sockets":
		fmt.Fprintln(s.Out, c.Sockets)
	case "threads":
		fmt.Fprintln(s.Out, c.Threads)
	case "linelen":
		fmt.Fprintln(s.Out, run.MaxLineLength())
	case "record-env":
		return true, recordEnv()
	}
	return true, nil
}

// gnuVersion is the GNU parallel release whose behaviour crew run follows.
const gnuVersion = 20221122

// recordEnv writes the names of the environment's variables to GNU
// parallel's ignored_vars file, as --record-env does.
func recordEnv() error {
	dir := parallelConfigDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return runUsage("--record-env: %v", err)
	}
	var b strings.Builder
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		b.WriteString(name + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "ignored_vars"), []byte(b.String()), 0o644); err != nil {
		return runUsage("--record-env: %v", err)
	}
	return nil
}

// progressPrinter draws --bar / --eta / --progress on stderr: one line
// rewritten in place on a terminal, a line per 10% otherwise.
func progressPrinter(s Streams, eta bool) func(run.Progress) {
	f, ok := s.Err.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	lastDecile := -1
	return func(p run.Progress) {
		line := fmt.Sprintf("%d done, %d failed, %d running, %s", p.Done, p.Failed, p.Running, p.Elapsed.Round(time.Second))
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
