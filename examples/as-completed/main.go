// As-completed submits tasks of different lengths and handles each result
// as soon as it is ready, not in submission order: the tutorials'
// executor.submit(...) + as_completed(futures). With crew, Map with
// Unordered does both at once; each result still carries its input's index.
package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/crewrun/crew"
)

var work = crew.Register("examples.work", func(ctx context.Context, ms int) (string, error) {
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return fmt.Sprintf("slept %d ms", ms), nil
	case <-ctx.Done(): // cancellation reaches the task, unlike a Python thread
		return "", ctx.Err()
	}
})

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ex := crew.Goroutines(crew.Workers(4))
	defer ex.Close()

	durations := []int{400, 100, 300, 200}
	for r := range crew.Map(ctx, ex, work, slices.Values(durations), crew.Unordered()) {
		fmt.Printf("task %d done: %s\n", r.Index, r.Value)
	}
}
