package crewtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewrun/crew"
)

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

// checkProgress checks the invariants of a run's updates: counts never
// negative or going backwards, Running within workers.
func checkProgress(t *testing.T, all []crew.Progress, workers int64) {
	t.Helper()
	var prev crew.Progress
	for k, p := range all {
		if p.Running < 0 || p.Running > workers || p.InFlight() < 0 || p.Done < prev.Done || p.Failed < prev.Failed || p.Abandoned < 0 {
			t.Fatalf("update %d: %+v after %+v (workers %d): counts went backwards, negative or past the workers", k, p, prev, workers)
		}
		prev = p
	}
}

// testProgress: OnProgress counts a task Submitted, Running, then Done or
// Failed — three updates per task, on every executor.
func testProgress(t *testing.T, newExecutor NewExecutor) {
	const workers = 2
	track, log := watchProgress()
	ex := open(t, newExecutor, crew.Workers(workers), track)
	for r := range crew.Map(t.Context(), ex, Half, slices.Values([]int{2, 3, 4, 5, 6})) {
		if (r.Err == nil) != (r.Index%2 == 0) {
			t.Errorf("half[%d] = %+v", r.Index, r)
		}
	}
	if _, err := crew.Submit(t.Context(), ex, Half, 8).Wait(t.Context()); err != nil {
		t.Error(err)
	}
	closeEx(t, ex)
	all := log.snapshot()
	checkProgress(t, all, workers)
	want := crew.Progress{Submitted: 6, Done: 4, Failed: 2}
	if len(all) != 18 || all[len(all)-1] != want {
		t.Errorf("%d updates ending in %+v; want 18 (submitted, running, finished per task) ending in %+v", len(all), all[len(all)-1:], want)
	}
}

// testProgressCancelled: tasks count as Running only while they run; one
// cancelled while it waited for a worker goes from Submitted to Failed.
func testProgressCancelled(t *testing.T, newExecutor NewExecutor) {
	const workers = 2
	track, log := watchProgress()
	ex := open(t, newExecutor, crew.Workers(workers), track)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	fs := []*crew.Future[int]{crew.Submit(ctx, ex, Block, 0), crew.Submit(ctx, ex, Block, 0), crew.Submit(ctx, ex, Block, 0)}
	waitFor(t, "two tasks running", func() bool {
		all := log.snapshot()
		return len(all) > 0 && all[len(all)-1].Running == workers && all[len(all)-1].Submitted == 3
	})
	cancel()
	for _, f := range fs {
		if _, err := f.Wait(t.Context()); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled task: %v", err)
		}
	}
	closeEx(t, ex)
	all := log.snapshot()
	checkProgress(t, all, workers)
	want := crew.Progress{Submitted: 3, Failed: 3}
	if len(all) != 8 || all[len(all)-1] != want {
		t.Errorf("%d updates ending in %+v; want 8 (3 submitted, 2 running, 3 failed) ending in %+v", len(all), all[len(all)-1:], want)
	}
}

// testInvalidOptions: an option out of range is refused when the
// executor is made — an error, or a panic from a constructor that has no
// error to return — never an executor that fails later.
func testInvalidOptions(t *testing.T, newExecutor NewExecutor) {
	for name, opt := range map[string]crew.Option{
		"Workers(0)":      crew.Workers(0),
		"Workers(-1)":     crew.Workers(-1),
		"Timeout(-1s)":    crew.Timeout(-time.Second),
		"Retries(-1, 0)":  crew.Retries(-1, 0),
		"Retries(1, -1s)": crew.Retries(1, -time.Second),
	} {
		ex, err := constructs(newExecutor, opt)
		if ex != nil {
			ex.Close()
			t.Errorf("%s: an executor was made; want the constructor to refuse it", name)
			continue
		}
		if !errors.Is(err, crew.ErrInvalidOption) && !strings.Contains(fmt.Sprint(err), crew.ErrInvalidOption.Error()) {
			t.Errorf("%s: refused with %v; want ErrInvalidOption", name, err)
		}
	}
}

// Types that JSON does not carry intact, and one that it does. Their
// fields are never read: Register only looks at the types.
type (
	unexported struct {
		//lint:ignore U1000 the unexported fields are the point
		lo, hi int
	}
	nestedHidden   struct{ Span unexported }
	withInterface  struct{ V any }
	exportedFields struct {
		Lo, Hi int
		When   time.Time // encodes itself
		//lint:ignore U1000 a field left out on purpose
		skip chan int `json:"-"`
	}
)

// testUncrossable: Register refuses argument and result types that would
// reach a worker process changed — naming the type and the field — on
// every executor, since the program must not depend on which one runs it.
func testUncrossable(t *testing.T, _ NewExecutor) {
	name := "crewtest.uncrossable." + t.Name()
	for what, reg := range map[string]struct {
		register func()
		want     []string
	}{
		"unexported field": {func() {
			crew.Register(name+".a", func(context.Context, unexported) (int, error) { return 0, nil })
		}, []string{"crewtest.unexported", "lo", "unexported"}},
		"nested unexported field": {func() {
			crew.Register(name+".b", func(context.Context, int) (nestedHidden, error) { return nestedHidden{}, nil })
		}, []string{"result", "nestedHidden.Span", "lo"}},
		"interface": {func() {
			crew.Register(name+".c", func(context.Context, withInterface) (int, error) { return 0, nil })
		}, []string{"withInterface.V", "interface"}},
		"channel": {func() {
			crew.Register(name+".d", func(context.Context, chan int) (int, error) { return 0, nil })
		}, []string{"chan"}},
	} {
		msg := panicOf(reg.register)
		if msg == "" {
			t.Errorf("%s: Register accepted a type JSON does not carry intact", what)
			continue
		}
		for _, w := range reg.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: Register panicked with %q; want it to name %q", what, msg, w)
			}
		}
	}
	if msg := panicOf(func() {
		crew.Register(name+".ok", func(context.Context, exportedFields) (map[int][]string, error) { return nil, nil })
	}); msg != "" {
		t.Errorf("Register refused exported fields, a type that encodes itself and a field left out with json:\"-\": %s", msg)
	}
}

// panicOf returns what f panicked with, "" if it did not.
func panicOf(f func()) (msg string) {
	defer func() {
		if v := recover(); v != nil {
			msg = fmt.Sprint(v)
		}
	}()
	f()
	return ""
}
