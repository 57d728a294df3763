package crewtest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewrun/crew"
)

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

// endless is an input that never ends, counting what is pulled.
func endless(pulled *atomic.Int64) func(func(int) bool) {
	return func(yield func(int) bool) {
		for {
			pulled.Add(1)
			if !yield(0) {
				return
			}
		}
	}
}

// testCancelMap: cancelling a Map's context ends the stream with a last
// Result (Index -1) whose error is the context's, and stops pulling.
func testCancelMap(t *testing.T, newExecutor NewExecutor) {
	ex := open(t, newExecutor, crew.Workers(2))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var pulled atomic.Int64
	const window = 8
	canceller := make(chan struct{})
	go func() { // cancel once the window is full of blocked tasks
		defer close(canceller)
		waitFor(t, "window full", func() bool { return pulled.Load() >= window })
		cancel()
	}()
	var last crew.Result[int]
	n := 0
	for r := range crew.Map(ctx, ex, Block, endless(&pulled), crew.Window(window)) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("result after cancel = %+v, want context.Canceled", r)
		}
		last = r
		n++
	}
	<-canceller
	if n == 0 || last.Index != -1 || !errors.Is(last.Err, context.Canceled) {
		t.Errorf("cancelled Map over an endless input ended with %+v after %d results; want a last Result with Index -1 and context.Canceled", last, n)
	}
	if p := pulled.Load(); p > window+1 {
		t.Errorf("%d inputs pulled with window %d", p, window)
	}
	// A Map that completed before its context ended says nothing more.
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	got := 0
	for r := range crew.Map(ctx2, ex, Square, ints(3)) {
		if r.Err != nil || r.Index != got {
			t.Errorf("complete Map: %+v", r)
		}
		got++
		if got == 3 {
			cancel2()
		}
	}
	if got != 3 {
		t.Errorf("a Map whose context ended after its last result yielded %d results, want 3", got)
	}
	closeEx(t, ex)
}

// testDeadlineMap: the same when the context's deadline passes.
func testDeadlineMap(t *testing.T, newExecutor NewExecutor) {
	ex := open(t, newExecutor, crew.Workers(2))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var pulled atomic.Int64
	var last crew.Result[int]
	for r := range crew.Map(ctx, ex, Block, endless(&pulled), crew.Window(4), crew.Unordered()) {
		last = r
	}
	if last.Index != -1 || !errors.Is(last.Err, context.DeadlineExceeded) {
		t.Errorf("Map past its deadline ended with %+v; want a last Result with Index -1 and context.DeadlineExceeded", last)
	}
	closeEx(t, ex)
}

func testBreakMap(t *testing.T, newExecutor NewExecutor) {
	ex := open(t, newExecutor, crew.Workers(2))
	var pulled atomic.Int64
	counting := func(yield func(int) bool) {
		for i := 0; ; i++ {
			pulled.Add(1)
			if !yield(i) {
				return
			}
		}
	}
	const window = 32
	got := 0
	for r := range crew.Map(t.Context(), ex, Square, counting, crew.Window(window)) {
		if r.Err != nil || r.Index < 0 {
			t.Fatal(r)
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
