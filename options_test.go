package crew_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewrun/crew"
)

func TestInvalidOptions(t *testing.T) {
	for name, opt := range map[string]crew.Option{
		"Workers(0)":      crew.Workers(0),
		"Timeout(-1)":     crew.Timeout(-1),
		"Retries(-1, 0)":  crew.Retries(-1, 0),
		"Retries(1, -1s)": crew.Retries(1, -time.Second),
	} {
		if _, err := crew.NewConfig(opt); !errors.Is(err, crew.ErrInvalidOption) {
			t.Errorf("NewConfig(%s) err = %v, want ErrInvalidOption", name, err)
		}
		ex := crew.Goroutines(opt)
		if _, err := crew.Submit(t.Context(), ex, square, 2).Wait(t.Context()); !errors.Is(err, crew.ErrInvalidOption) {
			t.Errorf("Goroutines(%s): Submit err = %v, want ErrInvalidOption", name, err)
		}
		ex.Close()
	}
	ex := crew.Goroutines()
	defer ex.Close()
	for r := range crew.Map(t.Context(), ex, square, slices.Values([]int{1}), crew.Window(0)) {
		if !errors.Is(r.Err, crew.ErrInvalidOption) {
			t.Errorf("Map with Window(0) = %+v, want ErrInvalidOption", r)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	cfg, err := crew.NewConfig(crew.Retries(5, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for attempt, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 30: time.Minute} {
		for range 50 {
			if d := cfg.RetryDelay(attempt); d < base/2 || d > base {
				t.Fatalf("RetryDelay(%d) = %v, want within [%v, %v]", attempt, d, base/2, base)
			}
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

func TestRemoteErrorKeepsSentinels(t *testing.T) {
	for _, sentinel := range []error{crew.ErrPanic, crew.ErrTimeout, crew.ErrWorkerDied, crew.ErrClosed, crew.ErrUnknownTask} {
		wire := crew.ToRemote(errors.Join(errors.New("context"), sentinel))
		if err := wire.Err(); !errors.Is(err, sentinel) {
			t.Errorf("%v lost its identity over the wire: %v", sentinel, err)
		}
	}
	if err := crew.ToRemote(crew.Permanent(errors.New("bad input"))).Err(); !crew.IsPermanent(err) || err.Error() != "bad input" {
		t.Errorf("Permanent over the wire = %v (permanent %v)", err, crew.IsPermanent(err))
	}
	if crew.ToRemote(nil) != nil || (*crew.RemoteError)(nil).Err() != nil {
		t.Error("nil error does not round-trip to nil")
	}
}

func TestRunEncoded(t *testing.T) {
	ctx := context.Background()
	out, err := crew.RunEncoded(ctx, "example.square", []byte("7"))
	if err != nil || string(out) != "49" {
		t.Errorf("RunEncoded(square, 7) = %s, %v", out, err)
	}
	if _, err := crew.RunEncoded(ctx, "no.such.task", nil); !errors.Is(err, crew.ErrUnknownTask) {
		t.Errorf("unknown task err = %v", err)
	}
	if _, err := crew.RunEncoded(ctx, "example.square", []byte(`"seven"`)); !crew.IsPermanent(err) {
		t.Errorf("undecodable argument err = %v, want a permanent error", err)
	}
	if !slices.Contains(crew.Tasks(), "example.square") {
		t.Errorf("Tasks() = %v lacks example.square", crew.Tasks())
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
