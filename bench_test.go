package crew_test

import (
	"testing"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
)

// BenchmarkMapTinyGoroutines maps a tiny task over b.N inputs on two
// goroutines: in chunks (Goroutines is a BatchExecutor), and one Call per
// input as Map feeds any other executor.
func BenchmarkMapTinyGoroutines(b *testing.B) {
	for _, c := range []struct {
		name string
		ex   func() crew.Executor
	}{
		{"chunks", func() crew.Executor { return crew.Goroutines(crew.Workers(2)) }},
		{"calls", func() crew.Executor { return callsOnly{crew.Goroutines(crew.Workers(2))} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			ex := c.ex()
			defer ex.Close()
			crewtest.BenchmarkMapSquare(b, ex)
		})
	}
}
