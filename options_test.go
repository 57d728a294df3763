package crew_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewrun/crew"
)

// TestGoroutinesPanicsOnInvalidOption: Goroutines has no error to
// return, so an invalid option panics at once, naming it (it used to make
// an executor whose every call failed, and after Close still said
// "invalid option" instead of ErrClosed).
func TestGoroutinesPanicsOnInvalidOption(t *testing.T) {
	defer func() {
		v := recover()
		if msg := fmt.Sprint(v); v == nil || !strings.Contains(msg, "Workers(-1)") || !strings.Contains(msg, "invalid option") {
			t.Errorf("Goroutines(Workers(-1)) panicked with %v; want a panic naming the option", v)
		}
	}()
	crew.Goroutines(crew.Workers(-1))
}

func TestMapInvalidWindow(t *testing.T) {
	ex := crew.Goroutines()
	defer ex.Close()
	for r := range crew.Map(t.Context(), ex, square, slices.Values([]int{1}), crew.Window(0)) {
		if !errors.Is(r.Err, crew.ErrInvalidOption) {
			t.Errorf("Map with Window(0) = %+v, want ErrInvalidOption", r)
		}
	}
}

func TestOnProgress(t *testing.T) {
	var mu sync.Mutex
	var last crew.Progress
	calls := 0
	ex := crew.Goroutines(crew.Workers(2), crew.OnProgress(func(p crew.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Done+p.Failed < last.Done+last.Failed || p.Running < 0 || p.InFlight() < 0 {
			t.Errorf("progress went backwards or negative: %+v after %+v", p, last)
		}
		last, calls = p, calls+1
	}))
	for range crew.Map(t.Context(), ex, divideOrFail, slices.Values([]int{1, 0, 2, 0, 4})) {
	}
	ex.Close()
	mu.Lock()
	defer mu.Unlock()
	want := crew.Progress{Submitted: 5, Done: 3, Failed: 2}
	if last != want || calls != 15 {
		t.Errorf("final progress %+v after %d calls, want %+v after 15 (submit, start, finish per task)", last, calls, want)
	}
}

var divideOrFail = crew.Register("test.divide-or-fail", func(_ context.Context, n int) (int, error) {
	if n == 0 {
		return 0, errors.New("zero")
	}
	return 12 / n, nil
})

var (
	builds  atomic.Int64
	counter = crew.RegisterInit("test.counter", func(context.Context) (int64, error) { return builds.Add(1), nil })
	fails   = crew.RegisterInit("test.init-fails", func(context.Context) (int, error) { return 0, errors.New("no database") })
)

func TestInitFromOutsideWorker(t *testing.T) {
	// A direct Call has no worker to cache the value in: From builds it each time.
	first, err := counter.From(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if second, err := counter.From(t.Context()); err != nil || second != first+1 {
		t.Errorf("From outside a worker = %d then %d, %v; want a fresh value each time", first, second, err)
	}
}

func TestInitFailure(t *testing.T) {
	ex := crew.Goroutines(crew.Workers(1), crew.Initialize(fails))
	defer ex.Close()
	_, err := crew.Submit(t.Context(), ex, square, 3).Wait(t.Context())
	if err == nil || err.Error() != `crew: initializer "test.init-fails": no database` {
		t.Errorf("task on a worker whose initializer failed: err = %v", err)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering a task name twice did not panic")
		}
	}()
	crew.Register("example.square", func(context.Context, int) (int, error) { return 0, nil })
}

func TestFutureDone(t *testing.T) {
	ex := crew.Goroutines()
	defer ex.Close()
	f := crew.Submit(t.Context(), ex, nap, 20)
	select {
	case <-f.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done never closed")
	}
	if v, err := f.Wait(t.Context()); v != 20 || err != nil {
		t.Errorf("Wait after Done = %d, %v", v, err)
	}
}
