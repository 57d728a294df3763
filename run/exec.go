package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// attemptExec runs a job with os/exec, its output copied through pipes:
// for --line-buffer, --pipe, -u, --nice, and where attemptDirect cannot
// run a job.
func (r *runner) attemptExec(ctx context.Context, j *job) {
	path, argv, err := r.argv(j.cmd)
	if err != nil {
		j.startErr = err
		j.exit = 127
		fmt.Fprintf(&j.stderr, "crew run: %v\n", err)
		return
	}
	cleanup, err := r.stdinFile(j)
	if err != nil {
		j.startErr = err
		j.exit = 127
		fmt.Fprintf(&j.stderr, "crew run: %v\n", err)
		return
	}
	defer cleanup()
	cmd := &exec.Cmd{Path: path, Args: argv, Env: r.jobEnv(j), Dir: j.dir}
	cmd.SysProcAttr = newProcessGroup()
	switch {
	case j.stdinR != nil:
		cmd.Stdin = j.stdinR
	case j.tmpFile != "": // --cat, --fifo: the block is in {}
	case j.stdin != nil:
		cmd.Stdin = bytes.NewReader(j.stdin)
	case r.o.JobStdin:
		cmd.Stdin = r.o.Stdin
	case r.o.StdinTTY:
		if tty, err := os.Open("/dev/tty"); err == nil {
			defer tty.Close()
			cmd.Stdin = tty
		}
	}
	var stdout, stderr io.Writer = &j.stdout, &j.stderr
	flushLines := func() {}
	switch {
	case r.o.Ungroup:
		stdout, stderr = r.o.Stdout, r.o.Stderr
	case r.o.LineBuffer:
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
	pid := cmd.Process.Pid
	h := &procHandle{kill: func() { killProcessGroup(pid, cmd.Process, syscall.SIGTERM) }}
	r.limits.track(j.seq, h)
	defer r.limits.untrack(j.seq)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	timeout := r.timeout()
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	exited := false
	select {
	case err = <-waited:
		exited = true
	case <-timer:
		j.timedOut = true
	case <-ctx.Done():
		j.killed = true
	}
	if !exited { // ended just now: done, not killed
		t := time.NewTimer(time.Millisecond)
		select {
		case err = <-waited:
			exited = true
			if r.endedInTime(j) {
				j.killed, j.timedOut = false, false
			} else {
				j.killed = true
			}
		case <-t.C:
		}
		t.Stop()
	}
	if j.timedOut {
		r.warnTimeout(j)
	}
	if !exited {
		exited = r.killGroup(func(s syscall.Signal) { killProcessGroup(pid, cmd.Process, s) }, func(d time.Duration) bool {
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
		if sig, ok := signalOf(ee); ok {
			j.signal = sig
		} else {
			j.exit = ee.ExitCode()
		}
	default:
		j.startErr = err
		j.exit = 255
	}
	r.markKilled(j, h)
}

// endedInTime says whether a job found ended just after the run was
// halted (--halt now) or cancelled counts as done: GNU parallel reaps
// ended jobs oldest first, so one started before the job that halted
// the run is printed, one started after it is not.
func (r *runner) endedInTime(j *job) bool {
	h := r.haltSeq.Load()
	return h == 0 || int64(j.seq) < h
}

// markKilled gives a job killed by crew GNU parallel's exit status -1
// (the signal stays in the joblog's Signal column).
func (r *runner) markKilled(j *job, h *procHandle) {
	if j.timedOut || h.memKilled {
		j.exit = -1
	}
}

// killGroup ends a job's whole process group as GNU parallel does —
// by default TERM, 200 ms, TERM, 100 ms, TERM, 50 ms, KILL — until wait
// reports, within the time given, that the job has ended; false if it
// has not ended a minute after the last signal.
func (r *runner) killGroup(signal func(syscall.Signal), wait func(time.Duration) bool) bool {
	steps := r.o.TermSeq
	if len(steps) == 0 {
		steps = defaultTermSeq
	}
	for i, step := range steps {
		signal(step.Signal)
		d := step.Wait
		if i == len(steps)-1 {
			d = max(d, time.Minute)
		}
		if wait(d) {
			return true
		}
	}
	return false
}

// timeout is the time a job may run: --timeout, or --timeout N% of the
// median run time of the jobs that succeeded so far (none: no limit).
func (r *runner) timeout() time.Duration {
	if r.o.TimeoutPct > 0 {
		r.outMu.Lock()
		defer r.outMu.Unlock()
		m := r.medianRuntime()
		if m == 0 {
			return 0
		}
		return time.Duration(float64(m) * r.o.TimeoutPct / 100)
	}
	return r.o.Timeout
}

// argv returns the program and arguments for a command line: its words
// when it needs no shell, else the shell with -c; with --nice, nice(1)
// in front.
func (r *runner) argv(cmd string) (string, []string, error) {
	var argv []string
	if words, ok := splitWords(cmd); ok {
		if _, err := r.lookPath(words[0]); err == nil {
			argv = words
		}
	}
	if argv == nil {
		sh, err := r.shellPath()
		if err != nil {
			return "", nil, err
		}
		argv = []string{sh, "-c", cmd}
	}
	if n := r.niceBy(); n > 0 {
		argv = append([]string{"nice", "-n", strconv.Itoa(n)}, argv...)
	}
	path, err := r.lookPath(argv[0])
	if err != nil {
		return "", nil, err
	}
	return path, argv, nil
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

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return c.w.Write(b)
}
