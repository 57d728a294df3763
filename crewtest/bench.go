package crewtest

import (
	"context"
	"testing"

	"github.com/crewrun/crew"
)

// BenchmarkMapSquare maps Square over b.N inputs on ex with opts and
// reports allocations and tasks/s: the per-task cost of an executor, the
// same way for every one of them.
func BenchmarkMapSquare(b *testing.B, ex crew.Executor, opts ...crew.MapOption) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for r := range crew.Map(context.Background(), ex, Square, ints(b.N), opts...) {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tasks/s")
}
