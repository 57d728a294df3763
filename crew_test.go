package crew_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGoroutinesConformance(t *testing.T) {
	crewtest.Run(t, func(opts ...crew.Option) (crew.Executor, error) {
		return crew.Goroutines(opts...), nil
	})
}

var (
	running, most atomic.Int64
	overlap       = crew.Register("crewtest.overlap", func(ctx context.Context, d time.Duration) (int, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(d)
		return 0, nil
	})
)

// TestGoroutinesBatchSpreads: Map's chunks of slow tasks still keep every
// worker busy, as the worker holding a chunk shares it with idle ones.
func TestGoroutinesBatchSpreads(t *testing.T) {
	const workers = 8
	ex := crew.Goroutines(crew.Workers(workers))
	defer ex.Close()
	most.Store(0)
	in := slices.Repeat([]time.Duration{20 * time.Millisecond}, 64)
	for r := range crew.Map(t.Context(), ex, overlap, slices.Values(in)) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if m := most.Load(); m != workers {
		t.Errorf("at most %d tasks ran at once on %d workers", m, workers)
	}
}
