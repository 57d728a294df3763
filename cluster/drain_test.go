package cluster_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/cluster/view"
)

// TestDrain drains one of three workers in the middle of a run: it
// stops fetching, hands back at once the tasks it fetched but had not
// started, and finishes its running ones. Every call completes exactly
// once, no task ran twice, and the job's record counts no retry and no
// redelivery: handing back did not count as a delivery. AckWait is a
// minute, so tasks left for redelivery would hold the run up.
func TestDrain(t *testing.T) {
	url := serve(t, cluster.ServerConfig{})
	var handedBack atomic.Int64
	cluster.SetDrainHook(t, func(n int) { handedBack.Add(int64(n)) })
	ex, err := cluster.New(t.Context(), url, cluster.AckWait(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	const n = 300                                 // 40 ms each (countedNap), on 6 slots
	base := int(time.Now().UnixNano()%1e9) * 1000 // arguments of this run only (-count)
	drained := make(chan error, 1)
	ctx, drain := context.WithCancel(context.Background())
	defer drain()
	go func() { drained <- cluster.Work(ctx, url, crew.Workers(2), cluster.DrainTimeout(30*time.Second)) }()
	for range 2 {
		startWork(t, url, 30*time.Second, crew.Workers(2))
	}
	in := func(yield func(int) bool) {
		for i := range n {
			if !yield(base + i) {
				return
			}
		}
	}
	start := time.Now()
	done := 0
	var drainedAt time.Time
	for r := range crew.Map(t.Context(), ex, countedNap, in, crew.Unordered(), crew.Window(n)) {
		if r.Err != nil {
			t.Fatalf("call %d: %v", r.Index, r.Err)
		}
		if r.Value != base+r.Index {
			t.Fatalf("call %d returned %d", r.Index, r.Value)
		}
		if done++; done == n/6 {
			drain()
			drainedAt = time.Now()
		}
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Fatalf("the drained worker: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the drained worker had not returned 10 s after its run ended")
	}
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("the run took %v: tasks waited for AckWait", took)
	}
	runs.Lock()
	for i := range n {
		if c := runs.n[base+i]; c != 1 {
			t.Errorf("task %d ran %d times", i, c)
		}
	}
	runs.Unlock()
	if handedBack.Load() == 0 {
		t.Error("the drained worker handed back no task: it held none when drained")
	}
	t.Logf("drained after %v; %d tasks handed back", drainedAt.Sub(start), handedBack.Load())
	checkRecord(t, url, func(j view.Job) bool { return j.Done == n && j.Retries == 0 && j.Redelivered == 0 })
}

// waitState lets a test see waitTask start and let it return.
type waitState struct {
	started chan struct{}
	release chan struct{}
}

var waiting sync.Map // key → *waitState

// waitTask says it started, then waits for its release or its context.
var waitTask = crew.Register("cluster_test.wait", func(ctx context.Context, key int) (int, error) {
	v, _ := waiting.Load(key)
	w := v.(*waitState)
	w.started <- struct{}{}
	select {
	case <-w.release:
		return key, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// TestDrainStopNow: a drain waits for the running tasks, up to its
// timeout; StopNow ends it at once, and the interrupted task goes to
// another worker at once, not after AckWait (a minute).
func TestDrainStopNow(t *testing.T) {
	url := serve(t, cluster.ServerConfig{})
	ex, err := cluster.New(t.Context(), url, cluster.AckWait(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	key := int(time.Now().UnixNano() % 1e9)
	w := &waitState{started: make(chan struct{}, 4), release: make(chan struct{})}
	waiting.Store(key, w)
	defer waiting.Delete(key)
	ctx, drain := context.WithCancel(context.Background())
	defer drain()
	hard, stopNow := context.WithCancel(context.Background())
	defer stopNow()
	stopped := make(chan error, 1)
	go func() {
		stopped <- cluster.Work(ctx, url, crew.Workers(1), cluster.DrainTimeout(time.Minute), cluster.StopNow(hard))
	}()
	f := crew.Submit(t.Context(), ex, waitTask, key)
	select {
	case <-w.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the task never started")
	}
	drain()
	select {
	case err := <-stopped:
		t.Fatalf("the worker stopped (%v) while its task ran, before the drain timeout", err)
	case <-time.After(300 * time.Millisecond): // a window in which nothing may happen
	}
	startWork(t, url, 30*time.Second, crew.Workers(1))
	stopAt := time.Now()
	stopNow()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("StopNow did not stop the worker within 5 s")
	}
	select {
	case <-w.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the interrupted task did not go to the other worker within 20 s (AckWait is a minute)")
	}
	t.Logf("the interrupted task restarted %v after StopNow", time.Since(stopAt))
	close(w.release)
	if got, err := f.Wait(t.Context()); err != nil || got != key {
		t.Errorf("call: %d, %v", got, err)
	}
}

// TestDrainTimeout: running tasks get the drain timeout, no longer.
func TestDrainTimeout(t *testing.T) {
	url := serve(t, cluster.ServerConfig{})
	ex, err := cluster.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	key := int(time.Now().UnixNano()%1e9) + 1
	w := &waitState{started: make(chan struct{}, 4), release: make(chan struct{})}
	waiting.Store(key, w)
	defer waiting.Delete(key)
	ctx, drain := context.WithCancel(context.Background())
	defer drain()
	stopped := make(chan error, 1)
	go func() { stopped <- cluster.Work(ctx, url, crew.Workers(1), cluster.DrainTimeout(500*time.Millisecond)) }()
	// No worker will run the interrupted task again: the call is
	// cancelled before Close.
	call, cancelCall := context.WithCancel(t.Context())
	defer cancelCall()
	crew.Submit(call, ex, waitTask, key)
	select {
	case <-w.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the task never started")
	}
	start := time.Now()
	drain()
	select {
	case err := <-stopped:
		if d := time.Since(start); err != nil || d < 500*time.Millisecond || d > 5*time.Second {
			t.Errorf("Work returned %v after %v; want nil after the 500ms drain timeout", err, d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker outlived its drain timeout by 10 s")
	}
	close(w.release)
}

// checkRecord waits up to 10 s for the one job of the server at url to
// show counts that ok accepts, as the live view reads them.
func checkRecord(t *testing.T, url string, ok func(view.Job) bool) {
	t.Helper()
	o, err := cluster.Observe(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := o.State(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Jobs) == 1 && ok(st.Jobs[0]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's record never showed the counts wanted: %+v", st.Jobs)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition with a deadline
	}
}
