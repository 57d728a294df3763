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
	in := func(yield func(int) bool) {
		for i := range b.N {
			if !yield(i) {
				return
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for r := range crew.Map(context.Background(), ex, crewtest.Square, in) {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}
