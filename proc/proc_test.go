package proc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	var mu sync.Mutex
	var stderr strings.Builder
	ex := newPool(t, crew.Workers(2), proc.Stderr(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return stderr.Write(b)
	})))
	sum := 0
	for r := range crew.Map(t.Context(), ex, chatty, slices.Values([]int{1, 2, 3, 4, 5})) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		sum += r.Value
	}
	ex.Close()
	if sum != 15 {
		t.Errorf("sum = %d, want 15", sum)
	}
	mu.Lock()
	defer mu.Unlock()
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

// TestHundredThousandTinyTasks checks that batching keeps every one of many
// tiny calls in order and intact: no call lost, duplicated or mismatched.
func TestHundredThousandTinyTasks(t *testing.T) {
	const n = 100_000
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	next := 0
	for r := range crew.Map(t.Context(), ex, crewtest.Square, func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}) {
		if r.Err != nil {
			t.Fatalf("square(%d): %v", next, r.Err)
		}
		if r.Value != next*next {
			t.Fatalf("result %d = %d, want %d", next, r.Value, next*next)
		}
		next++
	}
	if next != n {
		t.Errorf("got %d results, want %d", next, n)
	}
}

// VictimArg names the input of victim that hangs, and where it says so.
type VictimArg struct {
	N      int    `json:"n"`
	Victim int    `json:"victim"`
	Dir    string `json:"dir"`
}

// victim squares N, except that the first attempt at N == Victim writes
// its pid to Dir/pid and hangs, and a retry (Dir/tried exists) squares.
var victim = crew.Register("proctest.victim", func(ctx context.Context, a VictimArg) (int, error) {
	if a.N != a.Victim {
		return a.N * a.N, nil
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "tried")); err == nil {
		return a.N * a.N, nil
	}
	if err := os.WriteFile(filepath.Join(a.Dir, "tried"), nil, 0o644); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(a.Dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return 0, err
	}
	<-ctx.Done()
	return 0, ctx.Err()
})

// TestChunkWorkerKilled kills a worker in the middle of a chunk: the
// element it was running fails with ErrWorkerDied (or, under Retries,
// succeeds on a retry), and every other element — before it in the same
// chunk, after it (sent back to the queue), on the other worker —
// completes, in order.
func TestChunkWorkerKilled(t *testing.T) {
	for _, retries := range []int{0, 1} {
		t.Run(fmt.Sprintf("retries=%d", retries), func(t *testing.T) {
			const n, victimAt = 3000, 1200
			ex := newPool(t, crew.Workers(2), crew.Retries(retries, time.Millisecond))
			defer ex.Close()
			dir := t.TempDir()
			in := func(yield func(VictimArg) bool) {
				for i := range n {
					if !yield(VictimArg{N: i, Victim: victimAt, Dir: dir}) {
						return
					}
				}
			}
			var yielded atomic.Int64
			killed := make(chan error, 1)
			go func() {
				// Kill once every input before the victim has come out of
				// the ordered Map, so that the element running is the
				// victim and no other, and once the victim has run long
				// enough for its worker to have said so (within about a
				// millisecond): a worker killed before that might have
				// been running any of the elements it was sent, which
				// then all run again.
				deadline := time.Now().Add(30 * time.Second)
				for {
					b, err := os.ReadFile(filepath.Join(dir, "pid"))
					p, _ := strconv.Atoi(string(b))
					if err == nil && p > 0 && yielded.Load() >= victimAt && ranFor(filepath.Join(dir, "pid")) > 50*time.Millisecond {
						killed <- syscall.Kill(p, syscall.SIGKILL)
						return
					}
					if time.Now().After(deadline) {
						killed <- fmt.Errorf("victim not reached: pid file %q, %d results", b, yielded.Load())
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			next := 0
			for r := range crew.Map(t.Context(), ex, victim, in) {
				if r.Index != next {
					t.Fatalf("result %d has index %d", next, r.Index)
				}
				next++
				yielded.Store(int64(next))
				if r.Index == victimAt && retries == 0 {
					if !errors.Is(r.Err, crew.ErrWorkerDied) || !strings.Contains(r.Err.Error(), "killed") {
						t.Errorf("the killed element: err = %v, want ErrWorkerDied mentioning the signal", r.Err)
					}
					continue
				}
				if r.Err != nil || r.Value != r.Index*r.Index {
					t.Errorf("element %d = %d, %v", r.Index, r.Value, r.Err)
				}
			}
			if next != n {
				t.Errorf("%d results, want %d", next, n)
			}
			if err := <-killed; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// spinOn squares its input, except for spinAt, which spins ignoring its
// context: only a kill stops it.
const spinAt = 150

var spinOn = crew.Register("proctest.spin-on", func(_ context.Context, n int) (int, error) {
	//lint:ignore SA5002 the task must ignore its context: only a kill stops it
	for n == spinAt {
	}
	return n * n, nil
})

// TestChunkTimeout: a runaway element inside a chunk is killed with its
// worker and fails with ErrTimeout; the rest of its chunk runs elsewhere.
func TestChunkTimeout(t *testing.T) {
	ex := newPool(t, crew.Workers(2), crew.Timeout(200*time.Millisecond))
	defer ex.Close()
	seen := 0
	for r := range crew.Map(t.Context(), ex, spinOn, slices.Values(rangeInts(400)), crew.Unordered()) {
		seen++
		if r.Index == spinAt {
			if !errors.Is(r.Err, crew.ErrTimeout) {
				t.Errorf("runaway element: err = %v, want ErrTimeout", r.Err)
			}
			continue
		}
		if r.Err != nil || r.Value != r.Index*r.Index {
			t.Errorf("element %d = %d, %v", r.Index, r.Value, r.Err)
		}
	}
	if seen != 400 {
		t.Errorf("%d results, want 400", seen)
	}
}

func rangeInts(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestHundredThousandTinyTasksUnordered: every index exactly once.
func TestHundredThousandTinyTasksUnordered(t *testing.T) {
	const n = 100_000
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	seen := make([]bool, n)
	count := 0
	for r := range crew.Map(t.Context(), ex, crewtest.Square, slices.Values(rangeInts(n)), crew.Unordered()) {
		if r.Err != nil || r.Value != r.Index*r.Index || seen[r.Index] {
			t.Fatalf("result %+v wrong or repeated", r)
		}
		seen[r.Index] = true
		count++
	}
	if count != n {
		t.Errorf("got %d results, want %d", count, n)
	}
}

// inverse returns 1/x: +Inf for 0, which JSON cannot carry.
var inverse = crew.Register("proctest.inverse", func(_ context.Context, x float64) (float64, error) { return 1 / x, nil })

// TestChunkEncodingFailures: an argument or a result that JSON cannot
// represent fails its own element; the rest of the chunk goes through.
func TestChunkEncodingFailures(t *testing.T) {
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	for _, c := range []struct {
		name string
		bad  float64 // the input at index 50
		want string  // in its error
	}{
		{"argument", math.NaN(), "encode argument"},
		{"result", 0, "encode result"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := make([]float64, 200)
			for i := range in {
				in[i] = float64(i + 1)
			}
			in[50] = c.bad
			n := 0
			for r := range crew.Map(t.Context(), ex, inverse, slices.Values(in)) {
				n++
				if r.Index == 50 {
					if r.Err == nil || !strings.Contains(r.Err.Error(), c.want) {
						t.Errorf("element 50 (%v): err = %v, want %q", c.bad, r.Err, c.want)
					}
					continue
				}
				if r.Err != nil || r.Value != 1/in[r.Index] {
					t.Errorf("element %d = %v, %v", r.Index, r.Value, r.Err)
				}
			}
			if n != len(in) {
				t.Errorf("%d results, want %d", n, len(in))
			}
		})
	}
}

// TestChunkBreakAndCancel leaves Maps with thousands of inputs in flight
// in chunks — by breaking out of the loop, and by cancelling the context
// — and checks that the pool drops them and goes on.
func TestChunkBreakAndCancel(t *testing.T) {
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	endless := func(yield func(int) bool) {
		for i := 0; ; i++ {
			if !yield(i % 1000) {
				return
			}
		}
	}
	got := 0
	for r := range crew.Map(t.Context(), ex, crewtest.Square, endless) {
		if r.Err != nil || r.Value != (r.Index%1000)*(r.Index%1000) {
			t.Fatalf("result %+v", r)
		}
		if got++; got == 20_000 {
			break
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got = 0
	for r := range crew.Map(ctx, ex, crewtest.Square, endless, crew.Unordered()) {
		if r.Err != nil && !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("result %+v", r)
		}
		if got++; got == 20_000 {
			cancel()
		}
	}
	if got < 20_000 {
		t.Errorf("cancelled Map yielded %d results", got)
	}
	if v, err := crew.Submit(t.Context(), ex, crewtest.Square, 12).Wait(t.Context()); err != nil || v != 144 {
		t.Errorf("after leaving two Maps, square(12) = %d, %v", v, err)
	}
}

// TestChunkPanics: a panic inside a chunk fails its own element with a
// *crew.PanicError carrying its value and the worker's stack; the
// elements around it succeed.
func TestChunkPanics(t *testing.T) {
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	for r := range crew.Map(t.Context(), ex, panicOn, slices.Values(rangeInts(300))) {
		if r.Index%37 == 5 {
			var pe *crew.PanicError
			if !errors.As(r.Err, &pe) || r.Err.Error() != fmt.Sprintf("crew: task panicked: panic at %d", r.Index) || !strings.Contains(string(pe.Stack), "proc_test.go") {
				t.Errorf("element %d: err = %v, want ErrPanic with its value and a stack", r.Index, r.Err)
			}
		} else if r.Err != nil || r.Value != r.Index {
			t.Errorf("element %d = %d, %v", r.Index, r.Value, r.Err)
		}
	}
}

var panicOn = crew.Register("proctest.panic-on", func(_ context.Context, n int) (int, error) {
	if n%37 == 5 {
		panic(fmt.Sprintf("panic at %d", n))
	}
	return n, nil
})

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
