package crewtest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/executor"
)

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

// testTimeoutIgnored: a task that ignores its cancelled context still
// fails with ErrTimeout at the deadline plus the grace period (proc kills
// its worker; goroutines and cluster abandon it), not when it returns.
func testTimeoutIgnored(t *testing.T, newExecutor NewExecutor) {
	ctx := t.Context()
	const timeout = 200 * time.Millisecond
	const sleeps = 2500 // ms: well past the deadline plus grace
	track, log := watchProgress()
	ex := open(t, newExecutor, crew.Workers(2), crew.Timeout(timeout), track)
	// Slack for a loaded machine: the watchdog's tick, a process's end.
	limit := timeout + executor.Grace(timeout) + 700*time.Millisecond
	start := time.Now()
	v, err := crew.Submit(ctx, ex, Ignore, sleeps).Wait(ctx)
	if d := time.Since(start); !errors.Is(err, crew.ErrTimeout) || d > limit {
		t.Errorf("task ignoring its context under Timeout(%v) = %d, %v after %v; want ErrTimeout within %v", timeout, v, err, d.Round(time.Millisecond), limit)
	}
	start = time.Now()
	for r := range crew.Map(ctx, ex, Ignore, ints(3), crew.Unordered()) {
		if r.Err != nil || r.Value != r.Index {
			t.Errorf("quick tasks after an abandoned one: %+v", r)
		}
	}
	if r := firstResult(crew.Map(ctx, ex, Ignore, func(yield func(int) bool) { yield(sleeps) })); !errors.Is(r.Err, crew.ErrTimeout) {
		t.Errorf("Map of a task ignoring its context = %+v, want ErrTimeout", r)
	}
	if d := time.Since(start); d > limit+100*time.Millisecond {
		t.Errorf("Map with a task ignoring its context took %v, want at most %v", d.Round(time.Millisecond), limit)
	}
	closeEx(t, ex)
	// Abandoned tasks leave the count when they return (a process
	// executor kills them instead: its count stays 0).
	waitFor(t, "Progress.Abandoned back to 0", func() bool {
		all := log.snapshot()
		return len(all) > 0 && all[len(all)-1].Abandoned == 0
	})
	for _, p := range log.snapshot() {
		if p.Abandoned < 0 || p.Abandoned > 2 {
			t.Fatalf("Progress.Abandoned = %d, want 0 to 2", p.Abandoned)
		}
	}
}

func firstResult[R any](seq func(func(crew.Result[R]) bool)) crew.Result[R] {
	for r := range seq {
		return r
	}
	return crew.Result[R]{Index: -2}
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
	// In a Map too, each element retried on its own.
	dirs := []FlakyArg{{Dir: t.TempDir(), Fails: 1}, {Dir: t.TempDir()}, {Dir: t.TempDir(), Fails: 2}}
	want := []int{2, 1, 3}
	for r := range crew.Map(ctx, ex, Flaky, func(yield func(FlakyArg) bool) {
		for _, d := range dirs {
			if !yield(d) {
				return
			}
		}
	}) {
		if r.Err != nil || r.Value != want[r.Index] {
			t.Errorf("Map under Retries(2): element %d = %d, %v; want success on attempt %d", r.Index, r.Value, r.Err, want[r.Index])
		}
	}
	closeEx(t, ex)
}

func testPermanent(t *testing.T, newExecutor NewExecutor) {
	ctx := t.Context()
	ex := open(t, newExecutor, crew.Workers(1), crew.Retries(3, time.Millisecond))
	_, err := crew.Submit(ctx, ex, Flaky, FlakyArg{Dir: t.TempDir(), Fails: 5, Permanent: true}).Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "attempt 1 fails") || !crew.IsPermanent(err) {
		t.Errorf("Permanent error err = %v (permanent %v), want the first attempt's error, not retried, still Permanent", err, crew.IsPermanent(err))
	}
	closeEx(t, ex)
}
