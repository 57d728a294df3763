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

// BenchmarkSubmitSquare submits b.N calls of Square to ex one by one, as
// Python's executor.submit would, then waits for them all: the per-call
// cost of Submit.
func BenchmarkSubmitSquare(b *testing.B, ex crew.Executor) {
	b.Helper()
	ctx := context.Background()
	fs := make([]*crew.Future[int], b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range fs {
		fs[i] = crew.Submit(ctx, ex, Square, i)
	}
	for i, f := range fs {
		if v, err := f.Wait(ctx); err != nil || v != i*i {
			b.Fatalf("square(%d) = %d, %v", i, v, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}
