package cli

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/crewrun/crew/run"
)

// crew run --semaphore is GNU parallel's sem: the command runs once
// another -j (default 1) commands of the same semaphore (--id, default
// the terminal's name) are not all running; in the background, crew
// returning at once, unless --fg; sem --wait waits until none runs.
// crew and GNU parallel share the semaphores.

// semHeldEnv hands a background semaphore place from crew to the copy of
// itself that runs the command.
const semHeldEnv = "CREW_SEM_HELD"

func runSemaphore(ctx context.Context, s Streams, f *runFlags, rest, args []string) error {
	if f.wait {
		rest = []string{"true"}
	}
	if len(rest) == 0 {
		return runUsage("--semaphore: no command given")
	}
	name := f.semName
	if name == "" {
		name = ttyName()
	}
	jobs := 1
	if f.jobs != "" {
		n, err := run.ParseJobs(f.jobs, run.CPUs().Threads)
		if err != nil {
			return runUsage("-j %v", err)
		}
		jobs = n
	}
	var timeout time.Duration
	if st := f.semTimeout; st != "" {
		neg := strings.HasPrefix(st, "-")
		d, err := parseDuration(strings.TrimPrefix(st, "-"))
		if err != nil {
			return runUsage("--semaphore-timeout %q: %v", st, err)
		}
		if timeout = d; neg {
			timeout = -d
		}
	}
	sem, err := run.OpenSemaphore(name, jobs, s.Err)
	if err != nil {
		return runUsage("%v", err)
	}
	if held := os.Getenv(semHeldEnv); held != "" {
		if err := sem.HandOver(held); err != nil {
			return runUsage("--semaphore: %v", err)
		}
		if ready := os.NewFile(3, "ready"); ready != nil {
			ready.Close()
		}
	} else {
		err := sem.Acquire(ctx, timeout)
		if errors.Is(err, run.ErrSemaphoreTimeout) {
			return exitStatus{code: 1, err: errQuiet}
		}
		if err != nil {
			return runExit(ctx, err)
		}
		if !f.fg {
			return semBackground(sem, args)
		}
	}
	defer sem.Release()
	o := run.Options{
		Command: rest, Sources: []run.Source{run.Args("")}, NoArgs: true, Jobs: 1,
		QuoteCommand: f.quote, Tag: f.tag, TagString: f.tagString, Ungroup: f.ungroup, LineBuffer: f.lineBuf,
		Verbose: f.verbose > 0, PrintCmd: f.printCmd, JobStdin: true, SingleJobStatus: true,
		Shell: run.DefaultShell(), Stdin: s.In, Stdout: s.Out, Stderr: s.Err,
	}
	return runExit(ctx, run.Run(ctx, o))
}

// semBackground starts a copy of crew that takes over this process's
// place in the semaphore and runs the command, and returns once it has.
func semBackground(sem *run.Semaphore, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		sem.Release()
		return runUsage("--semaphore: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		sem.Release()
		return runUsage("--semaphore: %v", err)
	}
	cmd := exec.Command(exe, append([]string{"run"}, args...)...)
	cmd.Env = append(os.Environ(), semHeldEnv+"="+sem.HolderFile())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		r.Close()
		sem.Release()
		return runUsage("--semaphore: %v", err)
	}
	w.Close()
	buf := make([]byte, 1)
	r.Read(buf) // EOF once the copy holds the place (or has died)
	r.Close()
	cmd.Process.Release()
	return nil
}

// ttyName is what tty(1) prints for standard input: the default
// semaphore name, as in GNU parallel.
func ttyName() string {
	out, _ := exec.Command("tty").Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		return s
	}
	return "not a tty"
}
