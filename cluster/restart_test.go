package cluster_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// runs counts the executions of countedSquare by argument, in this process.
var runs = struct {
	sync.Mutex
	n map[int]int
}{n: map[int]int{}}

var countedSquare = crew.Register("cluster_test.counted-square", func(_ context.Context, n int) (int, error) {
	runs.Lock()
	runs.n[n]++
	runs.Unlock()
	return n * n, nil
})

// startServe runs Serve with cfg until the returned stop is called (or
// the test ends) and returns the server's URL.
func startServe(t *testing.T, cfg cluster.ServerConfig) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	cfg.Ready = func(url string) { urls <- url }
	errc := make(chan error, 1)
	go func() { errc <- cluster.Serve(ctx, cfg) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case url = <-urls:
		return url, stop
	case err := <-errc:
		once.Do(cancel)
		t.Fatalf("Serve: %v", err)
	}
	return "", nil
}

// waitStored waits until the tasks stream holds n messages.
func waitStored(t *testing.T, url string, n uint64) {
	t.Helper()
	js := jetStreamAt(t, url)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := js.Stream(t.Context(), "CREW_TASKS")
		if err == nil && s.CachedInfo().State.Msgs == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tasks stream does not hold %d tasks (err %v)", n, err)
		}
		time.Sleep(10 * time.Millisecond) // polling the condition
	}
}

// TestServerRestart stops the server while tasks wait for a worker and
// starts it again on the same store and port: the executor reconnects, a
// worker started afterwards runs every task once, and every call completes
// with its result, as do calls submitted while the server is down and
// after the restart.
func TestServerRestart(t *testing.T) {
	runs.Lock()
	clear(runs.n) // from an earlier run of this test (-count)
	runs.Unlock()
	store := t.TempDir()
	url, stop := startServe(t, cluster.ServerConfig{Listen: "127.0.0.1:0", StoreDir: store})
	ex, err := cluster.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	// Bounded, so that a lost task fails the test instead of hanging Close.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	const n = 50
	futures := make([]*crew.Future[int], n)
	for i := range n {
		futures[i] = crew.Submit(ctx, ex, countedSquare, i)
	}
	waitStored(t, url, n)
	stop()
	// Submitted while the server is down: kept in the client's reconnect
	// buffer, or failed and published again (submitFailed).
	for i := n; i < n+10; i++ {
		futures = append(futures, crew.Submit(ctx, ex, countedSquare, i))
	}

	_, port, _ := net.SplitHostPort(url[len("nats://"):])
	again, _ := startServe(t, cluster.ServerConfig{Listen: "127.0.0.1:" + port, StoreDir: store})
	if again != url {
		t.Fatalf("restarted on %s, want %s", again, url)
	}
	// And after the restart.
	for i := n + 10; i < n+20; i++ {
		futures = append(futures, crew.Submit(ctx, ex, countedSquare, i))
	}
	wctx, wcancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cluster.Work(wctx, url, crew.Workers(2)) }()
	defer func() {
		wcancel()
		if err := <-done; err != nil {
			t.Errorf("Work: %v", err)
		}
	}()
	for i, f := range futures {
		got, err := f.Wait(ctx)
		if err != nil || got != i*i {
			t.Fatalf("task %d after the restart: %d, %v", i, got, err)
		}
	}
	runs.Lock()
	defer runs.Unlock()
	for i := range futures {
		if runs.n[i] != 1 {
			t.Errorf("task %d ran %d times", i, runs.n[i])
		}
	}
}

// TestServerRestartWhileRunning restarts the server while a worker runs
// tasks: the worker and the executor reconnect, and every call completes
// once with its result.
func TestServerRestartWhileRunning(t *testing.T) {
	store := t.TempDir()
	url, stop := startServe(t, cluster.ServerConfig{Listen: "127.0.0.1:0", StoreDir: store})
	_, port, _ := net.SplitHostPort(url[len("nats://"):])
	ex, err := cluster.New(t.Context(), url, cluster.AckWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	wctx, wcancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cluster.Work(wctx, url, crew.Workers(2), cluster.Batch(2)) }()
	defer func() {
		wcancel()
		if err := <-done; err != nil {
			t.Errorf("Work: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const n = 20
	seen := make([]int, n)
	got := 0
	for r := range crew.Map(ctx, ex, crewtest.Sleep, func(yield func(int) bool) {
		for range n {
			if !yield(100) {
				return
			}
		}
	}, crew.Unordered(), crew.Window(n)) {
		if r.Err != nil {
			t.Fatalf("task %d: %v", r.Index, r.Err)
		}
		seen[r.Index]++
		if got++; got == 2 {
			stop() // tasks are running: the worker holds its next ones
			startServe(t, cluster.ServerConfig{Listen: "127.0.0.1:" + port, StoreDir: store})
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("task %d completed %d times", i, c)
		}
	}
}

var countedNap = crew.Register("cluster_test.counted-nap", func(ctx context.Context, n int) (int, error) {
	runs.Lock()
	runs.n[n]++
	runs.Unlock()
	t := time.NewTimer(40 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// TestHeldTasksKeptAlive has a worker hold a batch of tasks much longer
// than AckWait before it runs them: its heartbeats keep them, so none is
// redelivered and run twice.
func TestHeldTasksKeptAlive(t *testing.T) {
	url := serve(t, cluster.ServerConfig{})
	ex, err := cluster.New(t.Context(), url, cluster.AckWait(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	const first, n = 3_000_000, 24
	runs.Lock()
	for i := range n {
		delete(runs.n, first+i)
	}
	runs.Unlock()
	futures := make([]*crew.Future[int], n)
	for i := range n {
		futures[i] = crew.Submit(t.Context(), ex, countedNap, first+i)
	}
	// One slot, and a batch as large as the job: the last task waits
	// 24 × 40 ms, three AckWaits. A second worker, started once the first
	// holds the batch, would get every task whose lease ran out.
	wctx, wcancel := context.WithCancel(t.Context())
	done := make(chan error, 2)
	go func() { done <- cluster.Work(wctx, url, crew.Workers(1), cluster.Batch(n)) }()
	defer func() {
		wcancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Work: %v", err)
			}
		}
	}()
	for i, f := range futures {
		if got, err := f.Wait(t.Context()); err != nil || got != first+i {
			t.Fatalf("task %d: %d, %v", i, got, err)
		}
		if i == 0 {
			go func() { done <- cluster.Work(wctx, url, crew.Workers(1), cluster.Batch(n)) }()
		}
	}
	runs.Lock()
	defer runs.Unlock()
	for i := range n {
		if c := runs.n[first+i]; c != 1 {
			t.Errorf("task %d ran %d times", i, c)
		}
	}
}
