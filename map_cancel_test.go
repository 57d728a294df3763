package crew_test

import (
	"context"
	"testing"

	"github.com/crewrun/crew"
)

var sqTask = crew.Register("map_cancel.square", func(_ context.Context, x int) (int, error) { return x * x, nil })

// A Map whose context ends after its last result, before it has seen the end
// of its input, is complete: it yields no error result (the race shows under
// -race within a few hundred runs).
func TestMapCancelAfterLastResultIsComplete(t *testing.T) {
	ex := crew.Goroutines(crew.Workers(2))
	defer ex.Close()
	extra := 0
	for range 3000 {
		ctx, cancel := context.WithCancel(t.Context())
		got := 0
		for r := range crew.Map(ctx, ex, sqTask, func(y func(int) bool) { _ = y(1) && y(2) && y(3) }) {
			got++
			if r.Index < 0 {
				extra++
			}
			if got == 3 {
				cancel()
			}
		}
		cancel()
	}
	if extra > 0 {
		t.Errorf("%d of 3000 complete Maps ended with an error result", extra)
	}
}
