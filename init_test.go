package crew_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewrun/crew"
)

// An initializer built from another's value (a database handle from a
// configuration), both built lazily by Init.From inside a task.
var (
	configInit = crew.RegisterInit("test.config", func(context.Context) (string, error) { return "dsn", nil })
	dbInit     = crew.RegisterInit("test.db", func(ctx context.Context) (string, error) {
		dsn, err := configInit.From(ctx)
		return "db(" + dsn + ")", err
	})
	useDB = crew.Register("test.use-db", func(ctx context.Context, _ int) (string, error) { return dbInit.From(ctx) })
)

func TestInitUsingAnotherInit(t *testing.T) {
	for name, opts := range map[string][]crew.Option{
		"lazy":                          {crew.Workers(1)},
		"the other built by Initialize": {crew.Workers(1), crew.Initialize(configInit)},
	} {
		t.Run(name, func(t *testing.T) {
			ex := crew.Goroutines(opts...)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if got, err := crew.Submit(ctx, ex, useDB, 0).Wait(ctx); err != nil || got != "db(dsn)" {
				// A deadlocked worker would also hang Close: leave it.
				t.Fatalf("got %q, %v; want db(dsn) (a deadlock ends in a timeout)", got, err)
			}
			ex.Close()
		})
	}
}

var (
	lazyBuilds atomic.Int64
	lazyInit   = crew.RegisterInit("test.lazy", func(context.Context) (int64, error) { return lazyBuilds.Add(1), nil })
	useLazy    = crew.Register("test.use-lazy", func(ctx context.Context, _ int) (int64, error) { return lazyInit.From(ctx) })
)

// TestLazyInitBuiltOncePerWorker checks that without Initialize, Init.From
// still keeps what it builds: once per worker, not once per task.
func TestLazyInitBuiltOncePerWorker(t *testing.T) {
	ex := crew.Goroutines(crew.Workers(1))
	defer ex.Close()
	before := lazyBuilds.Load()
	for range 5 {
		if _, err := crew.Submit(t.Context(), ex, useLazy, 0).Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := lazyBuilds.Load() - before; n != 1 {
		t.Errorf("5 tasks on 1 worker built the value %d times, want 1", n)
	}
}

// A value that keeps the context it was built with (a connection made
// with it, a command started with it).
var (
	ctxInit  = crew.RegisterInit("test.ctx", func(ctx context.Context) (context.Context, error) { return ctx, nil })
	ctxAlive = crew.Register("test.ctx-alive", func(ctx context.Context, _ int) (bool, error) {
		c, err := ctxInit.From(ctx)
		return err == nil && c.Err() == nil, err
	})
)

// TestInitOutlivesFirstCaller checks that a per-worker value is not tied
// to the context of the call that happened to build it.
func TestInitOutlivesFirstCaller(t *testing.T) {
	for name, opts := range map[string][]crew.Option{
		"Initialize": {crew.Workers(1), crew.Initialize(ctxInit)},
		"lazy":       {crew.Workers(1)},
	} {
		t.Run(name, func(t *testing.T) {
			ex := crew.Goroutines(opts...)
			defer ex.Close()
			first, cancel := context.WithCancel(t.Context())
			if alive, err := crew.Submit(first, ex, ctxAlive, 0).Wait(t.Context()); err != nil || !alive {
				t.Fatalf("first call: %v, %v", alive, err)
			}
			cancel()
			if alive, err := crew.Submit(t.Context(), ex, ctxAlive, 0).Wait(t.Context()); err != nil || !alive {
				t.Errorf("after the first caller ended, the worker's value is dead: %v, %v", alive, err)
			}
		})
	}
}

// TestMapStopsPullingAfterBreak checks that breaking out of Map stops it
// from reading its input, also while its window (DefaultWindow) has room.
func TestMapStopsPullingAfterBreak(t *testing.T) {
	ex := crew.Goroutines(crew.Workers(2))
	defer ex.Close()
	var pulled atomic.Int64
	slowInput := func(yield func(int) bool) {
		for i := 0; ; i++ {
			time.Sleep(time.Millisecond) // an input that takes time to produce, like lines from a pipe
			pulled.Add(1)
			if !yield(i) {
				return
			}
		}
	}
	for range crew.Map(t.Context(), ex, square, slowInput) {
		break
	}
	if n := pulled.Load(); n > 1000 {
		t.Errorf("Map read %d inputs before stopping after a break", n)
	}
}
