package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
)

// exitWorker kills the worker process that runs it, on every delivery.
var exitWorker = crew.Register("cluster_test.exit-worker", func(context.Context, int) (int, error) {
	if os.Getenv(workerURLEnv) == "" {
		return 0, errors.New("exit-worker runs only in a worker process")
	}
	os.Exit(3)
	return 0, nil
})

// superviseWorkers keeps n worker processes running against url, starting
// a new one whenever one exits, until the returned stop is called; it
// reports how many processes it started.
func superviseWorkers(t *testing.T, url string, n int) (stop func() int) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	started := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cmd, err := startHelper(workerURLEnv + "=" + url)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				started++
				mu.Unlock()
				exited := make(chan struct{})
				go func() { cmd.Wait(); close(exited) }()
				select {
				case <-exited:
					continue
				case <-done:
					cmd.Process.Kill()
					<-exited
					return
				}
			}
		}()
	}
	return func() int {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return started
	}
}

// TestDeadLetter runs a task that kills its worker process on every
// delivery among ordinary tasks: once it has killed the worker it ran alone
// on three times (after two deaths among other tasks) it fails with
// crew.ErrWorkerDied, and every other task
// completes with its result, though it was held by the dying workers.
func TestDeadLetter(t *testing.T) {
	url := serve(t, cluster.ServerConfig{})
	ex, err := cluster.New(t.Context(), url, cluster.AckWait(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	futures, poison := submitAroundPoison(ctx, ex, 100)
	stop := superviseWorkers(t, url, 2)
	start := time.Now()
	_, err = poison.Wait(ctx)
	if !errors.Is(err, crew.ErrWorkerDied) {
		t.Errorf("the task that kills its workers: %v, want ErrWorkerDied", err)
	}
	t.Logf("dead-lettered after %v: %v", time.Since(start), err)
	waitSquares(t, ctx, futures)
	// Two, and one per death: the first two among other tasks, then one
	// per run alone. More would mean that deaths were pinned on other
	// tasks.
	if started := stop(); started > 2+2+3 {
		t.Errorf("%d worker processes started: the task killed more than 5", started)
	}
}

// TestDeadLetterMaxDeliver is TestDeadLetter with an executor that does
// not answer start requests: the consumer's MaxDeliver and its advisory
// fail the task with crew.ErrWorkerDied, and the other tasks complete.
func TestDeadLetterMaxDeliver(t *testing.T) {
	url := serve(t, cluster.ServerConfig{})
	ex, err := cluster.New(t.Context(), url, cluster.AckWait(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	if err := cluster.IgnoreStartRequests(ex); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	futures, poison := submitAroundPoison(ctx, ex, 20)
	stop := superviseWorkers(t, url, 2)
	defer stop()
	_, err = poison.Wait(ctx)
	if !errors.Is(err, crew.ErrWorkerDied) || !strings.Contains(err.Error(), fmt.Sprintf("delivered %d times", cluster.MaxDeliver)) {
		t.Errorf("the task that kills its workers: %v, want ErrWorkerDied after %d deliveries", err, cluster.MaxDeliver)
	}
	waitSquares(t, ctx, futures)
}
