//go:build unix

package proc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
	"github.com/crewrun/crew/proc"
)

func TestMain(m *testing.M) {
	// The mains of programs that get ServeIfWorker wrong, as workers of
	// TestNewInWorker.
	switch os.Getenv("PROC_TEST_MAIN") {
	case "forgets": // runs main's code, which starts a pool
		_, err := proc.New(crew.Workers(2))
		fmt.Fprintln(os.Stderr, "main:", err)
		os.Exit(1)
	case "silent": // does something else forever
		time.Sleep(time.Hour)
		os.Exit(1)
	}
	proc.ServeIfWorker()
	if os.Getenv("PROC_TEST_PARENT") != "" {
		parentMain()
		return
	}
	// Under -race a program sleeps a second before it exits, for the
	// reports of other goroutines: every worker the tests stop would take
	// a second to go, which slows the tests down and hides when the pool
	// handles a worker's end. The workers inherit this.
	if _, set := os.LookupEnv("GORACE"); !set {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	goleak.VerifyTestMain(m)
}

func newPool(t *testing.T, opts ...crew.Option) crew.Executor {
	t.Helper()
	ex, err := proc.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func TestConformance(t *testing.T) {
	crewtest.Run(t, proc.New)
}

// Tasks for the process-specific tests, registered at package level so
// that the workers (this test binary, re-executed) know them.
var (
	pid = crew.Register("proctest.pid", func(context.Context, int) (int, error) { return os.Getpid(), nil })
	// hang writes its pid to the file it is given, then waits forever.
	hang = crew.Register("proctest.hang", func(ctx context.Context, pidFile string) (int, error) {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return 0, err
		}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	exit = crew.Register("proctest.exit", func(_ context.Context, code int) (int, error) {
		os.Exit(code)
		return 0, nil
	})
	spin = crew.Register("proctest.spin", func(context.Context, int) (int, error) {
		//lint:ignore SA5002 the task must ignore its context: only a kill stops it
		for {
		}
	})
	chatty = crew.Register("proctest.chatty", func(_ context.Context, n int) (int, error) {
		fmt.Println("task output on stdout", n) // must not corrupt the protocol
		fmt.Fprintln(os.Stderr, "task output on stderr", n)
		return n, nil
	})
)

func TestWorkerKilledMidTask(t *testing.T) {
	ctx := t.Context()
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	pidFile := filepath.Join(t.TempDir(), "pid")
	victim := crew.Submit(ctx, ex, hang, pidFile)
	others := make([]*crew.Future[int], 50)
	for i := range others {
		others[i] = crew.Submit(ctx, ex, crewtest.Square, i)
	}
	p := waitForPID(t, pidFile)
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, err := victim.Wait(ctx)
	if !errors.Is(err, crew.ErrWorkerDied) || !strings.Contains(err.Error(), "killed") {
		t.Errorf("killed worker's task err = %v, want ErrWorkerDied mentioning the signal", err)
	}
	for i, f := range others {
		if v, err := f.Wait(ctx); err != nil || v != i*i {
			t.Errorf("task %d beside the killed one = %d, %v", i, v, err)
		}
	}
	// The pool replaced the worker and goes on.
	if v, err := crew.Submit(ctx, ex, crewtest.Square, 7).Wait(ctx); err != nil || v != 49 {
		t.Errorf("after the kill, square(7) = %d, %v", v, err)
	}
}

func TestKilledTaskRetried(t *testing.T) {
	ctx := t.Context()
	ex := newPool(t, crew.Workers(1), crew.Retries(1, time.Millisecond))
	defer ex.Close()
	// The first attempt exits the worker; the retry runs in the replacement
	// and exits it too: two deaths, one error.
	_, err := crew.Submit(ctx, ex, exit, 7).Wait(ctx)
	if !errors.Is(err, crew.ErrWorkerDied) || !strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("os.Exit(7) in a task: err = %v, want ErrWorkerDied with exit status 7", err)
	}
	if v, err := crew.Submit(ctx, ex, crewtest.Square, 3).Wait(ctx); err != nil || v != 9 {
		t.Errorf("after os.Exit, square(3) = %d, %v", v, err)
	}
}

func TestTimeoutKillsRunawayTask(t *testing.T) {
	ctx := t.Context()
	ex := newPool(t, crew.Workers(1), crew.Timeout(150*time.Millisecond))
	defer ex.Close()
	before, err := crew.Submit(ctx, ex, pid, 0).Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = crew.Submit(ctx, ex, spin, 0).Wait(ctx)
	if !errors.Is(err, crew.ErrTimeout) {
		t.Fatalf("runaway task err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the runaway task was stopped after %v", d)
	}
	after, err := crew.Submit(ctx, ex, pid, 0).Wait(ctx)
	if err != nil || after == before {
		t.Errorf("after the kill, worker pid %d (before %d), err %v: want a new worker", after, before, err)
	}
	if processAlive(before) {
		t.Errorf("the runaway worker %d is still alive", before)
	}
}

func TestMaxTasksPerWorker(t *testing.T) {
	ctx := t.Context()
	ex := newPool(t, crew.Workers(1), proc.MaxTasksPerWorker(5))
	defer ex.Close()
	pids := map[int]int{}
	for r := range crew.Map(ctx, ex, pid, slices.Values(make([]int, 20))) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		pids[r.Value]++
	}
	if len(pids) != 4 {
		t.Errorf("20 tasks, 5 per worker: %d workers %v, want 4", len(pids), pids)
	}
	for p, n := range pids {
		if n != 5 {
			t.Errorf("worker %d ran %d tasks, want 5", p, n)
		}
	}
}

func TestInitializerFailureFailsNew(t *testing.T) {
	if _, err := proc.New(crew.Workers(1), crew.Initialize(brokenInit)); err == nil || !strings.Contains(err.Error(), "no license") {
		t.Errorf("New with a failing initializer: err = %v", err)
	}
}

var brokenInit = crew.RegisterInit("proctest.broken", func(context.Context) (int, error) { return 0, errors.New("no license") })

func TestStdoutDoesNotCorruptProtocol(t *testing.T) {
	// No lock here: the pool writes to the Stderr writer from one worker at
	// a time (-race reports it otherwise).
	var stderr strings.Builder
	var writing atomic.Int32
	ex := newPool(t, crew.Workers(2), proc.Stderr(writerFunc(func(b []byte) (int, error) {
		if writing.Add(1) > 1 {
			t.Error("two workers' output written to the Stderr writer at once")
		}
		defer writing.Add(-1)
		return stderr.Write(b)
	})))
	sum := 0
	// Many inputs, so that both workers write at the same time.
	for r := range crew.Map(t.Context(), ex, chatty, func(yield func(int) bool) {
		for i := 1; i <= 400 && yield(i); i++ {
		}
	}) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		sum += r.Value
	}
	ex.Close()
	if sum != 400*401/2 {
		t.Errorf("sum = %d, want %d", sum, 400*401/2)
	}
	for _, want := range []string{"] task output on stdout 3", "] task output on stderr 5", "[worker "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("forwarded worker output lacks %q:\n%s", want, stderr.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestParentDeathKillsWorkers starts a parent process with a pool, kills
// the parent with SIGKILL, and checks that its workers go too.
func TestParentDeathKillsWorkers(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "PROC_TEST_PARENT=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("parent printed no worker pids: %v", err)
	}
	var workers []int
	for _, f := range strings.Fields(line) {
		p, _ := strconv.Atoi(f)
		workers = append(workers, p)
	}
	if len(workers) != 2 {
		t.Fatalf("parent reported workers %q", line)
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, w := range workers {
		for processAlive(w) {
			if time.Now().After(deadline) {
				t.Fatalf("worker %d outlived its parent", w)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// parentMain is the parent process of TestParentDeathKillsWorkers: it
// prints its two workers' pids and waits to be killed.
func parentMain() {
	ex, err := proc.New(crew.Workers(2))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	seen := map[int]bool{}
	var pids []string
	for len(seen) < 2 {
		// Two slow calls at once land on two different workers.
		fs := []*crew.Future[int]{crew.Submit(ctx, ex, slowPID, 0), crew.Submit(ctx, ex, slowPID, 0)}
		for _, f := range fs {
			if p, err := f.Wait(ctx); err == nil && !seen[p] {
				seen[p] = true
				pids = append(pids, strconv.Itoa(p))
			}
		}
	}
	fmt.Println(strings.Join(pids, " "))
	select {}
}

var slowPID = crew.Register("proctest.slow-pid", func(context.Context, int) (int, error) {
	time.Sleep(50 * time.Millisecond) // long enough for both calls to be taken by different workers
	return os.Getpid(), nil
})

func waitForPID(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(file)
		if err == nil && len(b) > 0 {
			p, err := strconv.Atoi(string(b))
			if err == nil {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", file)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ranFor returns how long ago a task wrote file, which it did as it
// started.
func ranFor(file string) time.Duration {
	fi, err := os.Stat(file)
	if err != nil {
		return 0
	}
	return time.Since(fi.ModTime())
}

func processAlive(pid int) bool {
	// A zombie (dead, not yet reaped by its parent) counts as gone.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] != "Z"
}

var procs = crew.Register("proctest.gomaxprocs", func(context.Context, int) (int, error) { return runtime.GOMAXPROCS(0), nil })

// TestWorkerGOMAXPROCS checks that the workers share this process's
// processors, unless GOMAXPROCS is set in the environment.
func TestWorkerGOMAXPROCS(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		want := max(1, runtime.GOMAXPROCS(0)/n)
		if env := os.Getenv("GOMAXPROCS"); env != "" {
			want, _ = strconv.Atoi(env)
		}
		ex := newPool(t, crew.Workers(n))
		got, err := crew.Submit(t.Context(), ex, procs, 0).Wait(t.Context())
		ex.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%d workers: a worker's GOMAXPROCS = %d, want %d", n, got, want)
		}
	}
	t.Run("environment wins", func(t *testing.T) {
		t.Setenv("GOMAXPROCS", "3")
		ex := newPool(t, crew.Workers(2))
		defer ex.Close()
		got, err := crew.Submit(t.Context(), ex, procs, 0).Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got != 3 {
			t.Errorf("GOMAXPROCS=3 in the environment: a worker's GOMAXPROCS = %d, want 3", got)
		}
	})
}

var environ = crew.Register("proctest.environ", func(context.Context, int) ([]string, error) { return os.Environ(), nil })

// TestTaskEnvironmentClean checks that what the pool tells its workers
// does not reach the programs their tasks start.
func TestTaskEnvironmentClean(t *testing.T) {
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	env, err := crew.Submit(t.Context(), ex, environ, 0).Wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "CREW_PROC_") || (strings.HasPrefix(kv, "GOMAXPROCS=") && os.Getenv("GOMAXPROCS") == "") {
			t.Errorf("a task's environment has %s", kv)
		}
	}
}
