package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/crewrun/crew"
)

// Experiment 7 runs one batch of short tasks in which one task crashes
// the process and one hangs, ignoring its context. On goroutines a crash
// ends the whole program, and a hang cannot be stopped: crew.Timeout fails
// the task with crew.ErrTimeout and the batch ends, but the goroutine runs
// on, abandoned, until the program exits. So those batches run in a child
// process — this program again, started with childEnv set — which the
// bench watches and, if need be, kills. On worker processes the same batch
// runs here: only the crashing task's worker dies, and the hung one is
// killed by crew.Timeout.

// childEnv, when set, makes ServeIfChild run the batch it reads on stdin.
const childEnv = "CREW_BENCH_CHILD"

// crashStatus is the exit status of the crashing task's process.
const crashStatus = 3

// Fault names for isolationArg.Fault.
const (
	faultNone  = ""
	faultCrash = "crash"
	faultHang  = "hang"
)

// isolationArg is one task of the batch.
type isolationArg struct {
	Index int    `json:"index"`
	Fault string `json:"fault,omitempty"`
	MS    int    `json:"ms"`
}

// faultTask waits MS milliseconds and returns its index — unless it is
// the one that crashes (os.Exit, as a C library's abort() or the kernel's
// out-of-memory killer would end the process) or the one that hangs
// (it ignores its context, as a read without a deadline would).
var faultTask = crew.Register("bench.fault", func(ctx context.Context, a isolationArg) (int, error) {
	switch a.Fault {
	case faultCrash:
		os.Exit(crashStatus)
	case faultHang:
		for {
			time.Sleep(time.Hour)
		}
	}
	t := time.NewTimer(time.Duration(a.MS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return a.Index, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// isolationSpec is the batch: Tasks tasks of TaskMS each on Workers
// workers under a per-task Timeout, the task at index Crash crashing and
// the one at Hang hanging (-1: none).
type isolationSpec struct {
	Tasks     int `json:"tasks"`
	Workers   int `json:"workers"`
	TaskMS    int `json:"task_ms"`
	TimeoutMS int `json:"timeout_ms"`
	Crash     int `json:"crash"`
	Hang      int `json:"hang"`
}

func (s isolationSpec) args() []isolationArg {
	out := make([]isolationArg, s.Tasks)
	for i := range out {
		out[i] = isolationArg{Index: i, MS: s.TaskMS}
		switch i {
		case s.Crash:
			out[i].Fault = faultCrash
		case s.Hang:
			out[i].Fault = faultHang
		}
	}
	return out
}

func (s isolationSpec) timeout() time.Duration { return time.Duration(s.TimeoutMS) * time.Millisecond }

// batchName says which faults the batch holds.
func (s isolationSpec) batchName() string {
	var f []string
	if s.Crash >= 0 {
		f = append(f, faultCrash)
	}
	if s.Hang >= 0 {
		f = append(f, faultHang)
	}
	return strings.Join(f, "+")
}

// patience is how long the bench waits for a child's batch before it
// calls it hung: the batch's own length, the timeout and a margin.
func (s isolationSpec) patience(quick bool) time.Duration {
	rounds := (s.Tasks + s.Workers - 1) / s.Workers
	margin := 2 * time.Second
	if quick {
		margin = 700 * time.Millisecond
	}
	return time.Duration(rounds*s.TaskMS)*time.Millisecond + s.timeout() + margin
}

// exitGrace is how long a child whose tasks have all answered may take to
// end before it counts as hung.
func (s isolationSpec) exitGrace(quick bool) time.Duration {
	if quick {
		return 2 * time.Second
	}
	return 3 * time.Second
}

func isolationSpecFor(cfg Config) isolationSpec {
	if cfg.Quick {
		return isolationSpec{Tasks: 12, Workers: 4, TaskMS: 20, TimeoutMS: 300, Crash: 5, Hang: 8}
	}
	return isolationSpec{Tasks: 16, Workers: 4, TaskMS: 50, TimeoutMS: 1000, Crash: 5, Hang: 10}
}

func isolationExperiment(cfg Config) experiment {
	s := isolationSpecFor(cfg)
	return experiment{
		number: 7, label: "7. isolation", name: "isolation", kind: kindIsolation,
		title: fmt.Sprintf("Isolation: %d tasks of %d ms on %d workers; task %d crashes the process, task %d hangs (Timeout %s)",
			s.Tasks, s.TaskMS, s.Workers, s.Crash, s.Hang, dur(s.timeout().Seconds())),
		question: "What happens to the rest of a batch when one task crashes or hangs?",
		seed: "seed 002, \u201cSection 12\u201d: a child process fails with EOFError while the main program " +
			"finishes its calculation; seed 004: each process has its own memory",
		tasks:  s.Tasks,
		python: "isolation",
	}
}

// IsolationRun is what happened to one batch of experiment 7.
type IsolationRun struct {
	Lang  string `json:"lang"`
	Mode  string `json:"mode"`
	Batch string `json:"batch"` // the faults in it: crash, hang or crash+hang
	Tasks int    `json:"tasks"`
	// Outcome is "finished" (the batch returned every result), "died"
	// (the program ended before it did) or "hung" (it was still waiting
	// when the bench gave up on it and killed it).
	Outcome   string `json:"outcome"`
	Status    string `json:"status,omitempty"` // how a child process ended
	Completed int    `json:"completed"`        // results with a value
	Failed    int    `json:"failed"`           // results with an error
	// Abandoned counts the tasks still running when the batch ended,
	// though they had failed with a timeout: goroutines cannot be stopped.
	Abandoned int     `json:"abandoned,omitempty"`
	ElapsedS  float64 `json:"elapsed_s"`        // from the batch's start to its end, death or kill
	PoolS     float64 `json:"pool_s,omitempty"` // starting and stopping the worker processes
	Crash     *Fate   `json:"crash,omitempty"`
	Hang      *Fate   `json:"hang,omitempty"`
	Error     string  `json:"error,omitempty"` // the batch could not be run
}

// Lost is how many tasks never gave a result.
func (r IsolationRun) Lost() int { return r.Tasks - r.Completed - r.Failed }

// Fate is what became of a faulty task.
type Fate struct {
	Task int `json:"task"`
	// Result names the outcome: crew.ErrWorkerDied, crew.ErrTimeout,
	// another error, or "no result".
	Result string  `json:"result"`
	Error  string  `json:"error,omitempty"`
	AtS    float64 `json:"at_s,omitempty"` // when its result came, since the batch's start
}

// childLine is one line a child writes: ready, a result, or done.
type childLine struct {
	Ready bool   `json:"ready,omitempty"`
	Done  bool   `json:"done,omitempty"`
	Index int    `json:"index"`
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"` // the sentinel the error wraps, if the child knows
	// Abandoned, on the done line, counts tasks that timed out but still
	// run: goroutines cannot be stopped.
	Abandoned int64 `json:"abandoned,omitempty"`
}

// ServeIfChild runs experiment 7's goroutines batch when crew bench started
// this program as its child, and then exits; otherwise it returns at once.
// A program that runs the bench calls it first thing in main (and in
// TestMain), next to proc.ServeIfWorker: the batch crashes or hangs the
// process it runs in, so it cannot run in the bench's own.
func ServeIfChild() {
	if os.Getenv(childEnv) == "" {
		return
	}
	os.Exit(serveChild(os.Stdin, os.Stdout))
}

func serveChild(in io.Reader, out io.Writer) int {
	var s isolationSpec
	if err := json.NewDecoder(in).Decode(&s); err != nil {
		fmt.Fprintf(os.Stderr, "crew bench child: reading the batch: %v\n", err)
		return 2
	}
	enc := json.NewEncoder(out)
	enc.Encode(childLine{Ready: true})
	var abandoned atomic.Int64
	ex := crew.Goroutines(crew.Workers(s.Workers), crew.Timeout(s.timeout()),
		crew.OnProgress(func(p crew.Progress) { abandoned.Store(p.Abandoned) }))
	for r := range crew.Map(context.Background(), ex, faultTask, slices.Values(s.args()), crew.Unordered()) {
		l := childLine{Index: r.Index, Kind: errorName(r.Err)}
		if r.Err != nil {
			l.Error = r.Err.Error()
		}
		enc.Encode(l)
	}
	ex.Close()
	enc.Encode(childLine{Done: true, Abandoned: abandoned.Load()})
	return 0
}

// runIsolation runs experiment 7: the goroutines batches in children, the
// processes batch here, and Python's ProcessPoolExecutor if Python is
// there.
func runIsolation(ctx context.Context, cfg Config) []IsolationRun {
	s := isolationSpecFor(cfg)
	crash, hang := s, s
	crash.Hang, hang.Crash = -1, -1
	var runs []IsolationRun
	for _, b := range []isolationSpec{crash, hang} {
		cfg.progress("isolation: go goroutines, a batch with a %s, in a child process", b.batchName())
		exe, err := os.Executable()
		var cmd *exec.Cmd
		if err == nil {
			cmd = exec.CommandContext(ctx, exe)
			cmd.Env = append(os.Environ(), childEnv+"=isolation")
		}
		runs = append(runs, watchChild(ctx, cmd, err, b, LangGo, ModeGoroutines, cfg.Quick))
	}
	if newEx, ok := cfg.Executors["processes"]; ok {
		cfg.progress("isolation: go processes, a batch with a crash and a hang")
		runs = append(runs, runOnExecutor(ctx, newEx, s))
	}
	if cfg.py != nil {
		for _, b := range []isolationSpec{crash, hang} {
			cfg.progress("isolation: python processes, a batch with a %s", b.batchName())
			cmd, err := cfg.py.command(ctx, "isolation", "processes", b.Workers, b)
			runs = append(runs, watchChild(ctx, cmd, err, b, LangPython, "processes", cfg.Quick))
		}
	}
	return runs
}

// runOnExecutor runs the batch on an executor of this process, timing
// the pool's start and stop apart.
func runOnExecutor(ctx context.Context, newEx NewExecutor, s isolationSpec) IsolationRun {
	run := IsolationRun{Lang: LangGo, Mode: "processes", Batch: s.batchName(), Tasks: s.Tasks}
	t0 := time.Now()
	ex, err := newEx(crew.Workers(s.Workers), crew.Timeout(s.timeout()))
	if err != nil {
		run.Error = err.Error()
		return run
	}
	pool := time.Since(t0)
	start := time.Now()
	for r := range crew.Map(ctx, ex, faultTask, slices.Values(s.args()), crew.Unordered()) {
		at := time.Since(start).Seconds()
		errText := ""
		if r.Err != nil {
			errText = r.Err.Error()
		}
		run.record(s, r.Index, errText, errorName(r.Err), at)
	}
	run.ElapsedS = time.Since(start).Seconds()
	c0 := time.Now()
	if err := ex.Close(); err != nil && run.Error == "" {
		run.Error = "closing the pool: " + err.Error()
	}
	run.PoolS = (pool + time.Since(c0)).Seconds()
	run.Outcome = "finished"
	if err := ctx.Err(); err != nil {
		run.Error = err.Error()
	}
	return run
}

// errorName names the sentinel an error wraps, as a reader would test it.
func errorName(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, crew.ErrWorkerDied):
		return "crew.ErrWorkerDied"
	case errors.Is(err, crew.ErrTimeout):
		return "crew.ErrTimeout"
	}
	return "error"
}

// record counts one result and, for a faulty task, notes its fate.
func (r *IsolationRun) record(s isolationSpec, index int, errText, name string, at float64) {
	if errText == "" {
		r.Completed++
	} else {
		r.Failed++
	}
	if name == "" && errText != "" {
		name, _, _ = strings.Cut(errText, ":")
	}
	fate := &Fate{Task: index, Result: name, Error: errText, AtS: at}
	if name == "" {
		fate.Result = "a value"
	}
	switch index {
	case s.Crash:
		r.Crash = fate
	case s.Hang:
		r.Hang = fate
	}
}

// watchChild runs a child that reads the batch on stdin and writes a
// childLine per result, and reports whether it finished, died or hung.
func watchChild(ctx context.Context, cmd *exec.Cmd, startErr error, s isolationSpec, lang, mode string, quick bool) (run IsolationRun) {
	run = IsolationRun{Lang: lang, Mode: mode, Batch: s.batchName(), Tasks: s.Tasks}
	defer func() { run.noteMissing(s) }()
	if startErr != nil {
		run.Error = startErr.Error()
		return run
	}
	spec, _ := json.Marshal(s)
	cmd.Stdin = bytes.NewReader(append(spec, '\n'))
	var stderr tailBuffer
	cmd.Stderr = &stderr
	ownGroup(cmd)
	stdout, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		run.Error = err.Error()
		return run
	}
	type line struct {
		l  childLine
		at time.Time
	}
	lines := make(chan line)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l childLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				lines <- line{l, time.Now()}
			}
		}
	}()
	kill := func() {
		killGroup(cmd)
		for range lines { // let the reader end, so that Wait may close the pipe
		}
	}
	fail := func(msg string) IsolationRun {
		kill()
		cmd.Wait()
		run.Error = msg
		return run
	}
	// A program that does not call ServeIfChild would run its own main
	// instead of the batch; it never says it is ready.
	ready := time.NewTimer(10 * time.Second)
	defer ready.Stop()
	var start time.Time
	for start.IsZero() {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				run.Error = fmt.Sprintf("the child ended without running the batch (%s): %s", cmd.ProcessState, stderr.String())
				return run
			}
			if l.l.Ready {
				start = l.at
			}
		case <-ready.C:
			return fail("the child did not start the batch within 10 s: does the program call bench.ServeIfChild first in main?")
		case <-ctx.Done():
			return fail(ctx.Err().Error())
		}
	}
	patience := time.NewTimer(s.patience(quick))
	defer patience.Stop()
	done, graced := false, false
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				<-readDone
				killGroup(cmd) // what the child started and left behind
				err := cmd.Wait()
				run.ElapsedS = time.Since(start).Seconds()
				run.Status = cmd.ProcessState.String()
				switch {
				case done && err == nil:
					run.Outcome = "finished"
				default:
					run.Outcome = "died"
				}
				return run
			}
			if l.l.Done {
				done, run.Abandoned = true, int(l.l.Abandoned)
				continue
			}
			run.record(s, l.l.Index, l.l.Error, l.l.Kind, l.at.Sub(start).Seconds())
		case <-patience.C:
			if run.Completed+run.Failed == s.Tasks && !graced {
				// Every task has answered: give the program time to end
				// (a pool's shutdown is slow on a busy machine).
				graced = true
				patience.Reset(s.exitGrace(quick))
				continue
			}
			run.ElapsedS = time.Since(start).Seconds()
			kill()
			cmd.Wait()
			run.Outcome = "hung"
			run.Status = "killed by the bench"
			return run
		case <-ctx.Done():
			return fail(ctx.Err().Error())
		}
	}
}

// noteMissing gives the faulty tasks that never answered a fate saying so.
func (r *IsolationRun) noteMissing(s isolationSpec) {
	if s.Crash >= 0 && r.Crash == nil {
		r.Crash = &Fate{Task: s.Crash, Result: "no result"}
	}
	if s.Hang >= 0 && r.Hang == nil {
		r.Hang = &Fate{Task: s.Hang, Result: "no result"}
	}
}

// isolationOK says whether the processes batch showed isolation: every
// other task completed, the crash failed with ErrWorkerDied and the hang
// with ErrTimeout.
func (r IsolationRun) isolationOK() bool {
	return r.Error == "" && r.Outcome == "finished" && r.Completed == r.Tasks-2 &&
		r.Crash != nil && r.Crash.Result == "crew.ErrWorkerDied" &&
		r.Hang != nil && r.Hang.Result == "crew.ErrTimeout"
}

// tailBuffer keeps the last 2 KiB written to it: a child's stderr.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = t.b[len(t.b)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return lastLine(string(t.b)) }
