//go:build linux

package proc_test

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/crewrun/crew"
)

// busy spins for the given milliseconds and returns how many times the
// worker process's threads gave up the CPU meanwhile (voluntary context
// switches: sleeps and waits, not preemption by other processes).
var busy = crew.Register("proctest.busy", func(_ context.Context, ms int) (int64, error) {
	var before, after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		return 0, err
	}
	for end := time.Now().Add(time.Duration(ms) * time.Millisecond); time.Now().Before(end); {
	}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
		return 0, err
	}
	return after.Nvcsw - before.Nvcsw, nil
})

// TestBusyWorkerStaysQuiet checks that a worker running a long task does
// not wake itself up: on a machine whose cores all run tasks, every
// wake-up of a worker's other threads takes CPU from some task. The Go
// runtime's monitor still wakes up about every 10 ms, so 300 ms of work
// allow a few dozen switches; a periodic 1 ms flush costs hundreds.
func TestBusyWorkerStaysQuiet(t *testing.T) {
	ex := newPool(t, crew.Workers(1))
	defer ex.Close()
	// A first short task lets the runtime's monitor settle after the
	// worker's start-up; then two long ones, so that a result is buffered
	// while the next task runs.
	for r := range crew.Map(t.Context(), ex, busy, slices.Values([]int{50, 300, 300})) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if r.Index == 0 {
			continue
		}
		if r.Value > 100 {
			t.Errorf("task %d: the worker's threads switched out %d times in 300 ms of work; want at most 100", r.Index, r.Value)
		}
		t.Logf("task %d: %d voluntary context switches in 300 ms", r.Index, r.Value)
	}
}
