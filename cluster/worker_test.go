package cluster_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// startWork runs Work in this process until the returned stop is called;
// stop fails the test if Work has not returned within wait of it.
func startWork(t *testing.T, url string, wait time.Duration, opts ...crew.Option) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cluster.Work(ctx, url, opts...) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Work: %v", err)
			}
		case <-time.After(wait):
			t.Errorf("Work still running %v after its context ended", wait)
		}
	}
	t.Cleanup(stop)
	return stop
}

var largeResult = crew.Register("cluster_test.large-result", func(_ context.Context, n int) (string, error) {
	return strings.Repeat("x", n), nil
})

// TestResultTooLarge: a result larger than the server takes in one
// message (8 MiB for Serve) cannot be stored however often it is
// published: its call fails with an error that says so, and the worker
// goes on with the next tasks and stops when asked.
func TestResultTooLarge(t *testing.T) {
	url := serve(t, cluster.ServerConfig{})
	ex, err := cluster.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	stop := startWork(t, url, 5*time.Second, crew.Workers(1))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = crew.Submit(ctx, ex, largeResult, 9<<20).Wait(ctx)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("a 9 MiB result: %v; want an error naming the sizes", err)
	}
	if got, err := crew.Submit(ctx, ex, crewtest.Square, 5).Wait(ctx); err != nil || got != 25 {
		t.Errorf("the next task: %d, %v", got, err)
	}
	stop()
}

// heldUp(0) waits for a value on holdUp; every call reports on heldUpRuns
// that it runs.
var (
	holdUp     = make(chan struct{})
	heldUpRuns = make(chan int, 16)
	heldUp     = crew.Register("cluster_test.held-up", func(ctx context.Context, n int) (int, error) {
		heldUpRuns <- n
		if n == 0 {
			select {
			case <-holdUp:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		return n, nil
	})
)

// TestWorkerStopsWhileServerDown stops a worker whose server has gone away
// while it holds a result it cannot store: Work returns (after a short
// grace for the acks), and the tasks whose results were not stored are
// redelivered to a worker once the server is back.
func TestWorkerStopsWhileServerDown(t *testing.T) {
	store := t.TempDir()
	url, stopServer := startServe(t, cluster.ServerConfig{Listen: "127.0.0.1:0", StoreDir: store})
	ex, err := cluster.New(t.Context(), url, cluster.AckWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// Task 0 waits for the gate, task 1 runs after it on the one slot:
	// once 1 runs, 0's result is waiting to be stored.
	first, second := crew.Submit(ctx, ex, heldUp, 0), crew.Submit(ctx, ex, heldUp, 1)
	waitStored(t, url, 2)
	stopWork := startWork(t, url, 5*time.Second, crew.Workers(1))
	waitHeld(t, url, 2)
	<-heldUpRuns
	stopServer()
	holdUp <- struct{}{}
	<-heldUpRuns
	stopWork()

	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "nats://"))
	startServe(t, cluster.ServerConfig{Listen: "127.0.0.1:" + port, StoreDir: store})
	go func() { holdUp <- struct{}{} }() // for task 0's second run
	startWork(t, url, 5*time.Second, crew.Workers(1))
	for i, f := range []*crew.Future[int]{first, second} {
		if got, err := f.Wait(ctx); err != nil || got != i {
			t.Errorf("task %d after the restart: %d, %v", i, got, err)
		}
	}
}

// waitHeld waits until workers hold n tasks of the server's jobs, fetched
// and not acknowledged.
func waitHeld(t *testing.T, url string, n int) {
	t.Helper()
	js := jetStreamAt(t, url)
	deadline := time.Now().Add(10 * time.Second)
	for {
		held := 0
		if s, err := js.Stream(t.Context(), "CREW_TASKS"); err == nil {
			for c := range s.ListConsumers(t.Context()).Info() {
				held += c.NumAckPending
			}
		}
		if held == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers hold %d tasks, want %d", held, n)
		}
		time.Sleep(10 * time.Millisecond) // polling the condition
	}
}
