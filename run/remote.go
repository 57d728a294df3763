package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crewrun/crew"
)

// ErrShellNotAllowed is the error of a Shell task sent to a process that
// has not called AllowShell: a worker runs other people's shell commands
// only when it was started to do so (crew worker --allow-shell).
var ErrShellNotAllowed = errors.New("this worker does not run shell commands (start it with: crew worker --allow-shell)")

var shellAllowed atomic.Bool

// hostname names this worker in the joblog's Host column.
var hostname = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

// AllowShell lets this process run Shell tasks — shell commands sent by
// whoever can submit tasks to its executor. That is remote command
// execution: call it only in workers meant to serve crew run --cluster, on
// a cluster with auth (and TLS across machines). AllowShell(false) turns
// it off again.
func AllowShell(on bool) { shellAllowed.Store(on) }

// ShellJob is one attempt of one job, as it travels to a worker.
type ShellJob struct {
	Cmd     string        `json:"cmd"`               // the expanded command line
	Stdin   []byte        `json:"stdin,omitempty"`   // --pipe block
	Shell   string        `json:"shell,omitempty"`   // for commands that need one; default /bin/sh
	Timeout time.Duration `json:"timeout,omitempty"` // kill the job's process group after this
}

// ShellResult is what the worker sends back: the job's output and how it
// ended, in the terms of GNU parallel's joblog.
type ShellResult struct {
	Stdout   []byte        `json:"stdout,omitempty"`
	Stderr   []byte        `json:"stderr,omitempty"`
	Exit     int           `json:"exit"`
	Signal   int           `json:"signal,omitempty"`
	Start    time.Time     `json:"start"`
	Runtime  time.Duration `json:"runtime"`
	TimedOut bool          `json:"timed_out,omitempty"`
	Host     string        `json:"host,omitempty"`
}

// Shell runs one job's command line on whichever worker takes it; it is
// how Run uses Options.Executor. The worker runs it exactly as a local
// job runs (without a shell when the line needs none, its own process
// group, the timeout killing the whole group), but only after
// AllowShell(true); otherwise the call fails with ErrShellNotAllowed.
var Shell = crew.Register("run.shell", runShell)

func runShell(ctx context.Context, sj ShellJob) (ShellResult, error) {
	if !shellAllowed.Load() {
		return ShellResult{}, crew.Permanent(ErrShellNotAllowed)
	}
	r := &runner{o: Options{Timeout: sj.Timeout, Stderr: io.Discard}, shell: sj.Shell}
	if r.shell == "" {
		r.shell = defaultShell
	}
	j := &job{cmd: sj.Cmd, stdin: sj.Stdin}
	r.attemptLocal(ctx, j)
	if j.startErr != nil && j.exit == 255 { // waiting failed: not the job's verdict
		return ShellResult{}, j.startErr
	}
	return ShellResult{
		Stdout: j.stdout.Bytes(), Stderr: j.stderr.Bytes(),
		Exit: j.exit, Signal: j.signal, Start: j.start, Runtime: j.runtime,
		TimedOut: j.timedOut, Host: hostname(),
	}, nil
}

// attemptRemote runs one attempt of j as a Shell task on r.o.Executor and
// fills j from the result as attempt would.
func (r *runner) attemptRemote(ctx context.Context, j *job) {
	j.start = time.Now()
	res, err := crew.Submit(ctx, r.o.Executor, Shell, ShellJob{
		Cmd: j.cmd, Stdin: j.stdin, Shell: r.o.Shell, Timeout: r.o.Timeout,
	}).Wait(ctx)
	if err != nil {
		j.runtime = time.Since(j.start)
		if ctx.Err() == nil && (errors.Is(err, crew.ErrClosed) || errors.Is(err, context.Canceled)) {
			// The executor takes no more calls (closed, or its cluster job
			// cancelled from outside): every job left would fail the same
			// way, so the run stops with this one error. The job is not
			// logged, so --resume runs it again.
			j.killed = true
			r.fatal(fmt.Errorf("the executor stopped taking jobs: %w", err))
			return
		}
		j.killed = ctx.Err() != nil // the run was cancelled or halted, not the job
		j.startErr = err
		j.exit = 255
		fmt.Fprintf(&j.stderr, "crew run: %v\n", err)
		return
	}
	j.runtime = res.Runtime // j.start stays this machine's clock
	j.exit, j.signal, j.timedOut = res.Exit, res.Signal, res.TimedOut
	j.host = res.Host
	j.received = int64(len(res.Stdout))
	if r.o.LineBuffer { // the output arrives whole; print it as the lines come in
		stdout, stderr, flush := r.lineOutput(j)
		stdout.Write(res.Stdout)
		stderr.Write(res.Stderr)
		flush()
	} else {
		j.stdout.Write(res.Stdout)
		j.stderr.Write(res.Stderr)
	}
	if j.timedOut {
		r.warnTimeout(j)
	}
}
