// Package crewtest is the conformance suite every crew executor passes:
// results and ordering, unordered completion, errors, panics, per-task
// timeouts, retries, cancellation, initializers, Close semantics, a 100k
// task Map in bounded memory, and goroutine leaks.
//
// An executor's tests call Run with a function that makes a fresh
// executor with the given options:
//
//	func TestConformance(t *testing.T) {
//		crewtest.Run(t, func(t *testing.T, opts ...crew.Option) crew.Executor {
//			ex, err := proc.New(opts...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return ex
//		})
//	}
//
// Executors that run tasks in other processes must run the same test
// binary there, so that the suite's tasks (registered in this package) are
// known to the workers.
package crewtest

import (
	"context"
	"errors"
	"iter"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/crewrun/crew"
)

// NewExecutor makes a fresh executor configured with opts for one test.
type NewExecutor func(t *testing.T, opts ...crew.Option) crew.Executor

// Run runs the whole suite against executors made by newExecutor, each
// check in its own subtest (select some with go test -run).
func Run(t *testing.T, newExecutor NewExecutor) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, NewExecutor)
	}{
		{"Submit", testSubmit},
		{"MapOrdered", testMapOrdered},
		{"MapUnordered", testMapUnordered},
		{"Errors", testErrors},
		{"Panics", testPanics},
		{"Timeout", testTimeout},
		{"Retries", testRetries},
		{"PermanentNotRetried", testPermanent},
		{"CancelSubmit", testCancelSubmit},
		{"CancelMap", testCancelMap},
		{"BreakMap", testBreakMap},
		{"Initializers", testInitializers},
		{"Close", testClose},
		{"Map100k", testMap100k},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaks := goleak.IgnoreCurrent()
			tc.fn(t, newExecutor)
			goleak.VerifyNone(t, leaks)
		})
	}
}

// open makes an executor that the test closes (Close is called twice on
// purpose: it must be idempotent).
func open(t *testing.T, newExecutor NewExecutor, opts ...crew.Option) crew.Executor {
	ex := newExecutor(t, opts...)
	t.Cleanup(func() {
		if err := ex.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	return ex
}

func closeEx(t *testing.T, ex crew.Executor) {
	t.Helper()
	if err := ex.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func ints(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

func testSubmit(t *testing.T, newExecutor NewExecutor) {
	ctx := t.Context()
	ex := open(t, newExecutor, crew.Workers(2))
	futures := make([]*crew.Future[int], 100)
	for i := range futures {
		futures[i] = crew.Submit(ctx, ex, Square, i)
	}
	for i, f := range futures {
		got, err := f.Wait(ctx)
		if err != nil || got != i*i {
			t.Fatalf("Submit(square, %d) = %d, %v; want %d", i, got, err, i*i)
		}
	}
	// Wait with an ended context gives up without waiting.
	f := crew.Submit(ctx, ex, Sleep, 200)
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Wait(short); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait(cancelled ctx) err = %v, want context.Canceled", err)
	}
	if got, err := f.Wait(ctx); err != nil || got != 200 {
		t.Errorf("Wait after early give-up = %d, %v; want 200", got, err)
	}
	closeEx(t, ex)
}

func testMapOrdered(t *testing.T, newExecutor NewExecutor) {
	ex := open(t, newExecutor, crew.Workers(3))
	const n = 2000
	i := 0
	for r := range crew.Map(t.Context(), ex, Square, ints(n), crew.Window(64)) {
		if r.Index != i || r.Err != nil || r.Value != i*i {
			t.Fatalf("result %d = %+v; want index %d value %d", i, r, i, i*i)
		}
		i++
	}
	if i != n {
		t.Fatalf("Map yielded %d results, want %d", i, n)
	}
	// Order holds even when early inputs finish last.
	delays := []int{150, 0, 0, 50, 0}
	var got []int
	for r := range crew.Map(t.Context(), ex, Sleep, slices.Values(delays)) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got = append(got, r.Value)
	}
	if !slices.Equal(got, delays) {
		t.Errorf("ordered Map = %v, want %v", got, delays)
	}
	closeEx(t, ex)
}

func testMapUnordered(t *testing.T, newExecutor NewExecutor) {
	ex := open(t, newExecutor, crew.Workers(2))
	// The slow first input must come out after the quick ones.
	var order []int
	for r := range crew.Map(t.Context(), ex, Sleep, slices.Values([]int{400, 0, 0, 0}), crew.Unordered()) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		order = append(order, r.Index)
	}
	if len(order) != 4 || order[3] != 0 {
		t.Errorf("unordered completion order = %v, want index 0 last", order)
	}
	seen := make([]bool, 500)
	for r := range crew.Map(t.Context(), ex, Square, ints(500), crew.Unordered(), crew.Window(16)) {
		if r.Err != nil || r.Value != r.Index*r.Index || seen[r.Index] {
			t.Fatalf("unordered result %+v wrong or repeated", r)
		}
		seen[r.Index] = true
	}
	if i := slices.Index(seen, false); i >= 0 {
		t.Errorf("unordered Map lost index %d", i)
	}
	closeEx(t, ex)
}

func testErrors(t *testing.T, newExecutor NewExecutor) {
	ctx := t.Context()
	ex := open(t, newExecutor, crew.Workers(2))
	_, err := crew.Submit(ctx, ex, Fail, "disk on fire").Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Fail task err = %v, want the task's message", err)
	}
	// A failure in Map fails that element only.
	msgs := []string{"a", "b", "c"}
	n := 0
	for r := range crew.Map(ctx, ex, Fail, slices.Values(msgs)) {
		if r.Err == nil || !strings.Contains(r.Err.Error(), msgs[r.Index]) {
			t.Errorf("Map(fail)[%d].Err = %v", r.Index, r.Err)
		}
		n++
	}
	if n != len(msgs) {
		t.Errorf("Map over failing tasks yielded %d results, want %d", n, len(msgs))
	}
	closeEx(t, ex)
}

func testPanics(t *testing.T, newExecutor NewExecutor) {
	ctx := t.Context()
	ex := open(t, newExecutor, crew.Workers(1))
	_, err := crew.Submit(ctx, ex, Panic, "kaboom").Wait(ctx)
	if !errors.Is(err, crew.ErrPanic) || !strings.Contains(err.Error(), "kaboom") {
		t.Errorf("panicking task err = %v, want ErrPanic with the panic value", err)
	}
	if strings.Count(err.Error(), "\n") < 2 {
		t.Errorf("panic error carries no stack trace: %v", err)
	}
	if got, err := crew.Submit(ctx, ex, Square, 9).Wait(ctx); err != nil || got != 81 {
		t.Errorf("after a panic, square(9) = %d, %v; the executor must keep working", got, err)
	}
	closeEx(t, ex)
}

func testTimeout(t *testing.T, newExecutor NewExecutor) {
	ctx := t.Context()
	ex := open(t, newExecutor, crew.Workers(2), crew.Timeout(200*time.Millisecond))
	start := time.Now()
	_, err := crew.Submit(ctx, ex, Block, 0).Wait(ctx)
	if !errors.Is(err, crew.ErrTimeout) {
		t.Errorf("overdue task err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("timeout took %v to report", d)
	}
	if got, err := crew.Submit(ctx, ex, Square, 5).Wait(ctx); err != nil || got != 25 {
		t.Errorf("after a timeout, square(5) = %d, %v", got, err)
	}
	closeEx(t, ex)
}

func testRetries(t *testing.T, newExecutor NewExecutor) {
	ctx := t.Context()
	ex := open(t, newExecutor, crew.Workers(2), crew.Retries(2, time.Millisecond))
	got, err := crew.Submit(ctx, ex, Flaky, FlakyArg{Dir: t.TempDir(), Fails: 2}).Wait(ctx)
	if err != nil || got != 3 {
		t.Errorf("task failing twice under Retries(2) = attempt %d, %v; want success on attempt 3", got, err)
	}
	_, err = crew.Submit(ctx, ex, Flaky, FlakyArg{Dir: t.TempDir(), Fails: 3}).Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "attempt 3 fails") {
		t.Errorf("task failing thrice under Retries(2) err = %v, want the third attempt's error", err)
	}
	closeEx(t, ex)
}

func testPermanent(t *testing.T, newExecutor NewExecutor) {
	ctx := t.Context()
	ex := open(t, newExecutor, crew.Workers(1), crew.Retries(3, time.Millisecond))
	_, err := crew.Submit(ctx, ex, Flaky, FlakyArg{Dir: t.TempDir(), Fails: 5, Permanent: true}).Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "attempt 1 fails") {
		t.Errorf("Permanent error err = %v, want the first attempt's error, not retried", err)
	}
	closeEx(t, ex)
}

func testCancelSubmit(t *testing.T, newExecutor NewExecutor) {
	ex := open(t, newExecutor, crew.Workers(2))
	ctx, cancel := context.WithCancel(t.Context())
	f := crew.Submit(ctx, ex, Block, 0)
	queued := []*crew.Future[int]{crew.Submit(ctx, ex, Block, 0), crew.Submit(ctx, ex, Block, 0)}
	cancel()
	for _, f := range append(queued, f) {
		if _, err := f.Wait(t.Context()); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled task err = %v, want context.Canceled", err)
		}
	}
	if got, err := crew.Submit(t.Context(), ex, Square, 4).Wait(t.Context()); err != nil || got != 16 {
		t.Errorf("after cancellation, square(4) = %d, %v", got, err)
	}
	closeEx(t, ex)
}

func testCancelMap(t *testing.T, newExecutor NewExecutor) {
	ex := open(t, newExecutor, crew.Workers(2))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var pulled atomic.Int64
	endless := func(yield func(int) bool) {
		for {
			pulled.Add(1)
			if !yield(0) {
				return
			}
		}
	}
	const window = 8
	canceller := make(chan struct{})
	go func() { // cancel once the window is full of blocked tasks
		defer close(canceller)
		waitFor(t, func() bool { return pulled.Load() >= window })
		cancel()
	}()
	for r := range crew.Map(ctx, ex, Block, endless, crew.Window(window)) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("result after cancel = %+v, want context.Canceled", r)
		}
	}
	<-canceller
	if p := pulled.Load(); p > window+1 {
		t.Errorf("%d inputs pulled with window %d", p, window)
	}
	closeEx(t, ex)
}

// waitFor polls cond until it holds or 30 seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Error("condition not reached in 30s")
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func testBreakMap(t *testing.T, newExecutor NewExecutor) {
	ex := open(t, newExecutor, crew.Workers(2))
	var pulled atomic.Int64
	endless := func(yield func(int) bool) {
		for i := 0; ; i++ {
			pulled.Add(1)
			if !yield(i) {
				return
			}
		}
	}
	const window = 32
	got := 0
	for r := range crew.Map(t.Context(), ex, Square, endless, crew.Window(window)) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got++
		if got == 10 {
			break
		}
	}
	if p := pulled.Load(); p > 10+window+1 {
		t.Errorf("after break at 10 results, %d inputs were pulled; the window is %d", p, window)
	}
	after := pulled.Load()
	if got, err := crew.Submit(t.Context(), ex, Square, 3).Wait(t.Context()); err != nil || got != 9 {
		t.Errorf("after breaking a Map, square(3) = %d, %v", got, err)
	}
	if pulled.Load() != after {
		t.Errorf("inputs still pulled after the range loop ended")
	}
	closeEx(t, ex)
}

func testInitializers(t *testing.T, newExecutor NewExecutor) {
	const workers = 2
	ex := open(t, newExecutor, crew.Workers(workers), crew.Initialize(WorkerIdentity))
	ids := map[uint64]int{}
	for r := range crew.Map(t.Context(), ex, WorkerID, ints(200), crew.Unordered()) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if r.Value == 0 {
			t.Fatalf("task %d saw no worker value", r.Index)
		}
		ids[r.Value]++
	}
	if len(ids) == 0 || len(ids) > workers {
		t.Errorf("200 tasks on %d workers saw %d distinct worker values %v; want 1..%d (one per worker)", workers, len(ids), ids, workers)
	}
	closeEx(t, ex)
}

func testClose(t *testing.T, newExecutor NewExecutor) {
	ctx := t.Context()
	ex := open(t, newExecutor, crew.Workers(2))
	running := crew.Submit(ctx, ex, Sleep, 150)
	queued := crew.Submit(ctx, ex, Sleep, 10)
	closeEx(t, ex)
	for _, f := range []*crew.Future[int]{running, queued} {
		select {
		case <-f.Done():
		default:
			t.Fatal("Close returned before a submitted task finished")
		}
		if _, err := f.Wait(ctx); err != nil {
			t.Errorf("task submitted before Close failed: %v", err)
		}
	}
	if _, err := crew.Submit(ctx, ex, Square, 2).Wait(ctx); !errors.Is(err, crew.ErrClosed) {
		t.Errorf("Submit after Close err = %v, want ErrClosed", err)
	}
	n := 0
	for r := range crew.Map(ctx, ex, Square, ints(3)) {
		if !errors.Is(r.Err, crew.ErrClosed) {
			t.Errorf("Map after Close result = %+v, want ErrClosed", r)
		}
		n++
	}
	if n != 3 {
		t.Errorf("Map after Close yielded %d results, want 3 errors", n)
	}
}

func testMap100k(t *testing.T, newExecutor NewExecutor) {
	ex := open(t, newExecutor, crew.Workers(2))
	const n = 100_000
	const window = 256
	var pulled, yielded atomic.Int64
	var maxAhead int64
	in := func(yield func(int) bool) {
		for i := range n {
			if ahead := pulled.Add(1) - yielded.Load(); ahead > maxAhead {
				maxAhead = ahead
			}
			if !yield(i) {
				return
			}
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sum, i := 0, 0
	for r := range crew.Map(t.Context(), ex, Square, in, crew.Window(window)) {
		if r.Err != nil || r.Index != i {
			t.Fatalf("result %d = %+v", i, r)
		}
		sum += r.Value & 1
		i++
		yielded.Add(1)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if i != n || sum != n/2 {
		t.Fatalf("Map over %d inputs yielded %d results (odd squares %d)", n, i, sum)
	}
	// Pulled but not yet counted as yielded: the window, one input the
	// feeder holds while it waits for room, and the result being yielded.
	if maxAhead > window+2 {
		t.Errorf("inputs pulled ahead of results: %d, window %d", maxAhead, window)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 16<<20 {
		t.Errorf("heap grew by %d MiB over a 100k Map; want bounded memory", grew>>20)
	}
	closeEx(t, ex)
}
