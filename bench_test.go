package crew_test

import (
	"testing"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
)

// BenchmarkMapTinyGoroutines maps a tiny task over b.N inputs on two
// goroutines.
func BenchmarkMapTinyGoroutines(b *testing.B) {
	ex := crew.Goroutines(crew.Workers(2))
	defer ex.Close()
	crewtest.BenchmarkMapSquare(b, ex)
}

// BenchmarkSubmitTinyGoroutines submits b.N tiny tasks one by one and
// then waits for them all.
func BenchmarkSubmitTinyGoroutines(b *testing.B) {
	ex := crew.Goroutines(crew.Workers(2))
	defer ex.Close()
	crewtest.BenchmarkSubmitSquare(b, ex)
}
