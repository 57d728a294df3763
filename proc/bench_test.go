//go:build unix

package proc_test

import (
	"context"
	"testing"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
	"github.com/crewrun/crew/proc"
)

// BenchmarkMapTiny maps a tiny task (square an int) over b.N inputs on
// two worker processes: the per-task cost of the process executor.
func BenchmarkMapTiny(b *testing.B) {
	ex, err := proc.New(crew.Workers(2))
	if err != nil {
		b.Fatal(err)
	}
	defer ex.Close()
	crewtest.BenchmarkMapSquare(b, ex)
}

// BenchmarkSubmitTiny submits b.N tiny calls one by one, as
// ProcessPoolExecutor.submit would, and then waits for them all: the
// single-call path, which Map's chunks bypass.
func BenchmarkSubmitTiny(b *testing.B) {
	ex, err := proc.New(crew.Workers(2))
	if err != nil {
		b.Fatal(err)
	}
	defer ex.Close()
	ctx := context.Background()
	fs := make([]*crew.Future[int], b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range fs {
		fs[i] = crew.Submit(ctx, ex, crewtest.Square, i)
	}
	for i, f := range fs {
		if v, err := f.Wait(ctx); err != nil || v != i*i {
			b.Fatalf("square(%d) = %d, %v", i, v, err)
		}
	}
}
