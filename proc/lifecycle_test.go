//go:build unix

package proc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
	"github.com/crewrun/crew/proc"
)

// waitUntil polls cond until it holds, failing the test after a deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// reaped reports whether process pid is gone and waited for by its parent.
func reaped(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return errors.Is(err, os.ErrNotExist)
}

// countStarts records each worker that builds it as a file named for the
// worker's pid in $PROC_TEST_STARTS.
var countStarts = crew.RegisterInit("proctest.count-starts", func(context.Context) (int, error) {
	return 0, os.WriteFile(filepath.Join(os.Getenv("PROC_TEST_STARTS"), strconv.Itoa(os.Getpid())), nil, 0o644)
})

// countingStarts returns a pool option that counts the workers started,
// and a function that returns the count so far.
func countingStarts(t *testing.T) (crew.Option, func() int) {
	dir := t.TempDir()
	t.Setenv("PROC_TEST_STARTS", dir) // the workers inherit New's environment
	return crew.Initialize(countStarts), func() int {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
}

// TestCloseStartsNoWorkers: Close lets the workers go as they run out of
// work; it starts no new ones while a call still runs on another worker
// or waits to be retried.
func TestCloseStartsNoWorkers(t *testing.T) {
	t.Run("call running", func(t *testing.T) {
		count, starts := countingStarts(t)
		ex := newPool(t, crew.Workers(2), count)
		f := crew.Submit(t.Context(), ex, crewtest.Sleep, 300)
		ex.Close()
		if _, err := f.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := starts(); n != 2 {
			t.Errorf("two workers, none lost: %d worker processes started", n)
		}
	})
	t.Run("retry waiting", func(t *testing.T) {
		count, starts := countingStarts(t)
		ex := newPool(t, crew.Workers(1), count, crew.Retries(1, 300*time.Millisecond))
		dir := t.TempDir()
		f := crew.Submit(t.Context(), ex, crewtest.Flaky, crewtest.FlakyArg{Dir: dir, Fails: 1})
		waitUntil(t, "the first attempt ran", func() bool {
			_, err := os.Stat(filepath.Join(dir, "attempt-1"))
			return err == nil
		})
		ex.Close()
		if got, err := f.Wait(t.Context()); err != nil || got != 2 {
			t.Errorf("retry across Close = attempt %d, %v; want success on attempt 2", got, err)
		}
		if n := starts(); n != 1 {
			t.Errorf("one worker, none lost: %d worker processes started", n)
		}
	})
}

// TestRetiredWorkerReplaced: a worker retired by MaxTasksPerWorker is
// replaced even when nothing is queued at that moment, so that calls
// submitted later — or retried after a backoff — still find a worker.
func TestRetiredWorkerReplaced(t *testing.T) {
	t.Run("submitted after retirement", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		ex := newPool(t, crew.Workers(1), proc.MaxTasksPerWorker(2))
		defer ex.Close()
		var retired int
		for range 2 {
			p, err := crew.Submit(ctx, ex, pid, 0).Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			retired = p
		}
		waitUntil(t, "the retired worker is reaped", func() bool { return reaped(retired) })
		p, err := crew.Submit(ctx, ex, pid, 0).Wait(ctx)
		if err != nil || p == retired {
			t.Errorf("after the only worker retired: pid %d (retired %d), %v; want a new worker", p, retired, err)
		}
	})
	t.Run("retried after retirement", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		ex := newPool(t, crew.Workers(1), proc.MaxTasksPerWorker(1), crew.Retries(1, 300*time.Millisecond))
		defer ex.Close()
		// The failed first attempt retires the worker while the retry
		// waits for its backoff.
		got, err := crew.Submit(ctx, ex, crewtest.Flaky, crewtest.FlakyArg{Dir: t.TempDir(), Fails: 1}).Wait(ctx)
		if err != nil || got != 2 {
			t.Errorf("retry after the worker retired = attempt %d, %v; want success on attempt 2", got, err)
		}
	})
}

// Tests of the workers' life: when the pool starts, replaces and stops
// them, and what it leaves behind.

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(fds)
}

// zombieChildren lists the children of this process that exited and were
// never waited for.
func zombieChildren(t *testing.T) []int {
	return children(t, func(state string) bool { return state == "Z" })
}

// liveChildren lists the children of this process that still run.
func liveChildren(t *testing.T) []int {
	return children(t, func(state string) bool { return state != "Z" })
}

// children lists the children of this process whose state (R, S, Z, …)
// passes keep.
func children(t *testing.T, keep func(state string) bool) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		t.Skipf("cannot list processes: %v", err)
	}
	var pids []int
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && keep(f[0]) && f[1] == strconv.Itoa(os.Getpid()) {
			p, _ := strconv.Atoi(strings.Fields(string(b))[0])
			pids = append(pids, p)
		}
	}
	return pids
}

// onlyFirst succeeds in the first worker that builds it (the first to
// create $PROC_TEST_FIRST/first) and fails in every other.
var onlyFirst = crew.RegisterInit("proctest.only-first", func(context.Context) (int, error) {
	f, err := os.OpenFile(filepath.Join(os.Getenv("PROC_TEST_FIRST"), "first"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, errors.New("not the first worker")
	}
	return 0, f.Close()
})

// TestFailedNewLeavesNothing: when some workers fail to start, New stops
// the ones that did, and waits for them: no zombie, no open pipe.
func TestFailedNewLeavesNothing(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no finalizer closes a forgotten pipe
	t.Setenv("PROC_TEST_FIRST", t.TempDir())
	before := openFiles(t)
	ex, err := proc.New(crew.Workers(2), crew.Initialize(onlyFirst))
	if err == nil {
		ex.Close()
		t.Fatal("New succeeded although a worker's initializer failed")
	}
	if z := zombieChildren(t); len(z) > 0 {
		t.Errorf("after a failed New, workers %v were never waited for", z)
	}
	if after := openFiles(t); after != before {
		t.Errorf("a failed New left %d files open (%d before, %d after)", after-before, before, after)
	}
}

// TestDeadWorkersLeaveNoOpenFiles: the pipes of every worker that ended —
// retired here — are closed when it is gone, not by a finalizer at some
// later garbage collection.
func TestDeadWorkersLeaveNoOpenFiles(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := openFiles(t)
	ex := newPool(t, crew.Workers(1), proc.MaxTasksPerWorker(1))
	for r := range crew.Map(t.Context(), ex, crewtest.Square, slices.Values(rangeInts(20))) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	ex.Close()
	if after := openFiles(t); after != before {
		t.Errorf("20 recycled workers: %d files open before, %d after Close", before, after)
	}
}

// ChildArg tells startChild where to write its child's pid, and whether
// to give the child the worker's standard error.
type ChildArg struct {
	PIDFile string `json:"pid_file"`
	Stderr  bool   `json:"stderr"`
}

// startChild starts `sleep 60`, writes its pid to a file, and spins
// ignoring its context.
var startChild = crew.Register("proctest.start-child", func(_ context.Context, a ChildArg) (int, error) {
	cmd := exec.Command("sleep", "60")
	if a.Stderr {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	if err := os.WriteFile(a.PIDFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return 0, err
	}
	//lint:ignore SA5002 the task must ignore its context: only a kill stops it
	for {
	}
})

// TestTimeoutDespiteChild: a worker killed for its timeout fails its call
// soon, and Close returns soon, even if a program its task started still
// runs: with the worker's standard error, or with nothing of it but what
// every child inherits.
func TestTimeoutDespiteChild(t *testing.T) {
	for _, stderr := range []bool{false, true} {
		t.Run(fmt.Sprintf("stderr=%v", stderr), func(t *testing.T) {
			ex := newPool(t, crew.Workers(1), crew.Timeout(200*time.Millisecond))
			pidFile := filepath.Join(t.TempDir(), "pid")
			defer func() {
				if b, err := os.ReadFile(pidFile); err == nil {
					if p, err := strconv.Atoi(string(b)); err == nil {
						syscall.Kill(p, syscall.SIGKILL)
					}
				}
			}()
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err := crew.Submit(ctx, ex, startChild, ChildArg{PIDFile: pidFile, Stderr: stderr}).Wait(ctx)
			if !errors.Is(err, crew.ErrTimeout) {
				t.Fatalf("runaway call with a child: err = %v, want ErrTimeout", err)
			}
			// The timeout, the grace period, and a second for the output.
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the timeout was reported after %v", d)
			}
			start = time.Now()
			ex.Close()
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Close took %v", d)
			}
		})
	}
}

// TestRetryFailsWhenNoWorkerStarts: a call whose worker died waits for
// its retry; when no replacement can start, the retry fails with why
// rather than wait forever.
func TestRetryFailsWhenNoWorkerStarts(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The first worker starts; every later one exits at once.
	t.Setenv("PROC_TEST_STARTED", filepath.Join(t.TempDir(), "started"))
	script := `if [ -e "$PROC_TEST_STARTED" ]; then exit 1; fi; : > "$PROC_TEST_STARTED"; exec "$0"`
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ex := newPool(t, crew.Workers(1), crew.Retries(1, 100*time.Millisecond), proc.Command("/bin/sh", "-c", script, exe))
	defer ex.Close()
	_, err = crew.Submit(ctx, ex, exit, 7).Wait(ctx)
	if !errors.Is(err, crew.ErrWorkerDied) || !strings.Contains(err.Error(), "did not start") {
		t.Errorf("retry with no worker to run it: err = %v, want ErrWorkerDied saying the worker did not start", err)
	}
}

// spinAfterPID writes its pid to the file it is given, then spins
// ignoring its context: only a kill stops it.
var spinAfterPID = crew.Register("proctest.spin-after-pid", func(_ context.Context, pidFile string) (int, error) {
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return 0, err
	}
	//lint:ignore SA5002 the task must ignore its context: only a kill stops it
	for {
	}
})

// TestCloseAfterCancelledRunaway: under Timeout, a call that ignores its
// cancellation still has its worker killed when it overruns, so that
// Close, which waits for the workers, returns.
func TestCloseAfterCancelledRunaway(t *testing.T) {
	ex := newPool(t, crew.Workers(1), crew.Timeout(200*time.Millisecond))
	ctx, cancel := context.WithCancel(t.Context())
	pidFile := filepath.Join(t.TempDir(), "pid")
	f := crew.Submit(ctx, ex, spinAfterPID, pidFile)
	waitForPID(t, pidFile)
	cancel()
	if _, err := f.Wait(t.Context()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled runaway call: err = %v, want context.Canceled", err)
	}
	closed := make(chan struct{})
	go func() {
		ex.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close still waits for a runaway worker 20 s after its call was cancelled")
	}
}

// exitAt50 returns its input, except that 50 exits the worker.
var exitAt50 = crew.Register("proctest.exit-at-50", func(_ context.Context, n int) (int, error) {
	if n == 50 {
		os.Exit(7)
	}
	return n, nil
})

// TestWorkerDeathFailsOnlyItsCall: a worker that dies fails the call it
// was running and no other, even when it dies right after finishing
// calls whose answers it had not sent yet.
func TestWorkerDeathFailsOnlyItsCall(t *testing.T) {
	check := func(t *testing.T, i int, v int, err error) {
		t.Helper()
		if i == 50 {
			if !errors.Is(err, crew.ErrWorkerDied) || !strings.Contains(err.Error(), "exit status 7") {
				t.Errorf("input 50, which exits: err = %v, want ErrWorkerDied with exit status 7", err)
			}
		} else if err != nil || v != i {
			t.Errorf("input %d = %d, %v", i, v, err)
		}
	}
	t.Run("Map", func(t *testing.T) {
		ex := newPool(t, crew.Workers(1))
		defer ex.Close()
		n := 0
		for r := range crew.Map(t.Context(), ex, exitAt50, slices.Values(rangeInts(100)), crew.Unordered()) {
			check(t, r.Index, r.Value, r.Err)
			n++
		}
		if n != 100 {
			t.Errorf("%d results, want 100", n)
		}
	})
	t.Run("Submit", func(t *testing.T) {
		ex := newPool(t, crew.Workers(1))
		defer ex.Close()
		// Calls submitted together travel in batches once the worker is
		// known to be fast: time it first.
		for r := range crew.Map(t.Context(), ex, crewtest.Square, slices.Values(rangeInts(1000))) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		fs := make([]*crew.Future[int], 100)
		for i := range fs {
			fs[i] = crew.Submit(t.Context(), ex, exitAt50, i)
		}
		for i, f := range fs {
			v, err := f.Wait(t.Context())
			check(t, i, v, err)
		}
	})
}

// TestKilledWorkerFailsRunningCall: a worker killed from outside while it
// runs a long call, with more calls sent behind it, fails that call — the
// worker said it was running it — and does not run it again; the calls
// behind it run on the replacement.
func TestKilledWorkerFailsRunningCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ex := newPool(t, crew.Workers(1))
	defer ex.Close()
	// A worker known to be fast is sent calls in batches.
	for r := range crew.Map(ctx, ex, crewtest.Square, slices.Values(rangeInts(1000))) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	victim := crew.Submit(ctx, ex, hang, pidFile)
	others := make([]*crew.Future[int], 20)
	for i := range others {
		others[i] = crew.Submit(ctx, ex, crewtest.Square, i)
	}
	p := waitForPID(t, pidFile)
	// The worker says which call it runs within about a millisecond.
	waitUntil(t, "the victim ran 50 ms", func() bool { return ranFor(pidFile) > 50*time.Millisecond })
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := victim.Wait(ctx); !errors.Is(err, crew.ErrWorkerDied) || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the killed call: err = %v, want ErrWorkerDied mentioning the signal", err)
	}
	for i, f := range others {
		if v, err := f.Wait(ctx); err != nil || v != i*i {
			t.Errorf("call %d behind the killed one = %d, %v", i, v, err)
		}
	}
}

// TestNewInWorker: a program that does not call ServeIfWorker first runs
// main in each worker. If main calls proc.New there, New fails at once in
// the worker, and the parent's New fails with the same message, naming
// ServeIfWorker — instead of workers starting pools of their own while
// the parent hangs. If main does something else, the parent's New fails
// after the handshake timeout, saying so. Either way no process is left.
func TestNewInWorker(t *testing.T) {
	for _, c := range []struct {
		main    string
		timeout time.Duration // for the worker's hello
		within  time.Duration
	}{
		{"forgets", time.Minute, 10 * time.Second},
		{"silent", 500 * time.Millisecond, 10 * time.Second},
	} {
		t.Run(c.main, func(t *testing.T) {
			t.Setenv("PROC_TEST_MAIN", c.main) // the workers inherit New's environment
			proc.SetHandshakeTimeout(t, c.timeout)
			var stderr strings.Builder
			start := time.Now()
			ex, err := proc.New(crew.Workers(2), proc.Stderr(&stderr))
			if err == nil {
				ex.Close()
				t.Fatal("New succeeded with workers whose main does not call ServeIfWorker")
			}
			if d := time.Since(start); !strings.Contains(err.Error(), "proc.ServeIfWorker()") || d > c.within {
				t.Errorf("New failed after %v with %v; want an error naming proc.ServeIfWorker() within %v", d, err, c.within)
			}
			if live, z := liveChildren(t), zombieChildren(t); len(live)+len(z) > 0 {
				t.Errorf("after the failed New, processes %v still run and %v were never waited for", live, z)
			}
		})
	}
}
