package proc_test

import (
	"os"
	"runtime/debug"
	"slices"
	"testing"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
	"github.com/crewrun/crew/proc"
)

// Tests of the workers' life: when the pool starts, replaces and stops
// them, and what it leaves behind.

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(fds)
}

// TestDeadWorkersLeaveNoOpenFiles: the pipes of every worker that ended —
// retired here — are closed when it is gone, not by a finalizer at some
// later garbage collection.
func TestDeadWorkersLeaveNoOpenFiles(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := openFiles(t)
	ex := newPool(t, crew.Workers(1), proc.MaxTasksPerWorker(1))
	for r := range crew.Map(t.Context(), ex, crewtest.Square, slices.Values(rangeInts(20))) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	ex.Close()
	if after := openFiles(t); after != before {
		t.Errorf("20 recycled workers: %d files open before, %d after Close", before, after)
	}
}
