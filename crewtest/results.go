package crewtest

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/crewrun/crew"
)

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
		if r.Err == nil || !strings.Contains(r.Err.Error(), msgs[r.Index]) || r.Value != 0 {
			t.Errorf("Map(fail)[%d] = %d, %v", r.Index, r.Value, r.Err)
		}
		n++
	}
	if n != len(msgs) {
		t.Errorf("Map over failing tasks yielded %d results, want %d", n, len(msgs))
	}
	closeEx(t, ex)
}

// testPanics: a panic is a *crew.PanicError under errors.As, wrapping
// ErrPanic, whose Error is one line with the panic value and whose Stack
// is not empty — from Submit and from Map, wherever the task ran.
func testPanics(t *testing.T, newExecutor NewExecutor) {
	ctx := t.Context()
	ex := open(t, newExecutor, crew.Workers(1))
	check := func(how string, err error) {
		t.Helper()
		var pe *crew.PanicError
		switch {
		case !errors.As(err, &pe):
			t.Errorf("%s: panicking task err = %v (%T), want a *crew.PanicError under errors.As", how, err, err)
		case !errors.Is(err, crew.ErrPanic):
			t.Errorf("%s: err = %v, not ErrPanic under errors.Is", how, err)
		case !strings.Contains(err.Error(), "kaboom") || !strings.Contains(toText(pe.Value), "kaboom"):
			t.Errorf("%s: err = %q, Value = %v; want the panic value kaboom in both", how, err, pe.Value)
		case !oneLine(err):
			t.Errorf("%s: Error() is %d lines, want one: %q", how, strings.Count(err.Error(), "\n")+1, err)
		case len(pe.Stack) == 0:
			t.Errorf("%s: PanicError has no Stack", how)
		}
	}
	_, err := crew.Submit(ctx, ex, Panic, "kaboom").Wait(ctx)
	check("Submit", err)
	for r := range crew.Map(ctx, ex, Panic, slices.Values([]string{"kaboom 1", "kaboom 2"})) {
		check("Map", r.Err)
	}
	if got, err := crew.Submit(ctx, ex, Square, 9).Wait(ctx); err != nil || got != 81 {
		t.Errorf("after a panic, square(9) = %d, %v; the executor must keep working", got, err)
	}
	closeEx(t, ex)
}

func toText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return ""
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
	var before, mid, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sum, i := 0, 0
	for r := range crew.Map(t.Context(), ex, Square, in, crew.Window(window)) {
		if r.Err != nil || r.Index != i {
			t.Fatalf("result %d = %+v", i, r)
		}
		sum += r.Value & 1
		i++
		yielded.Add(1)
		if i == n/2 {
			runtime.GC()
			runtime.ReadMemStats(&mid)
		}
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
	// What an executor holds for a Map is bounded by its window; a
	// cluster's heap also holds the embedded server's caches, which fill
	// up to their own limits (about 15 MiB here): so the second half of
	// the input may add little, and the whole run a bounded amount.
	first, second := int64(mid.HeapAlloc)-int64(before.HeapAlloc), int64(after.HeapAlloc)-int64(mid.HeapAlloc)
	if first+second > 32<<20 || second > 8<<20 {
		t.Errorf("heap grew by %.1f MiB over the first 50k results of a Map and %.1f MiB over the next 50k; want bounded memory",
			float64(first)/(1<<20), float64(second)/(1<<20))
	}
	t.Logf("heap grew by %.1f + %.1f MiB", float64(first)/(1<<20), float64(second)/(1<<20))
	closeEx(t, ex)
}
