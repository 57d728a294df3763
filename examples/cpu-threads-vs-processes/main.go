// Cpu-threads-vs-processes runs the same CPU-bound work — summing primes
// by trial division — sequentially, on goroutines and on worker
// processes. In Python only processes speed it up, because of the GIL; in
// Go goroutines already use every core, and processes add isolation (a
// crash or a timeout kills a worker, not the program), not speed.
package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/primes"
	"github.com/crewrun/crew/proc"
)

// span is every step-th number from lo below hi: splitting one sum into
// equal parts keeps all workers busy to the end.
type span struct{ Lo, Hi, Step uint64 }

var sumSpan = crew.Register("examples.sum-span", func(_ context.Context, s span) (uint64, error) {
	var sum uint64
	for n := s.Lo; n < s.Hi; n += s.Step {
		if primes.IsPrime6k(n) {
			sum += n
		}
	}
	return sum, nil
})

func main() {
	proc.ServeIfWorker()
	const n, parts = 2_000_000, 8
	var spans []span
	for k := range uint64(parts) {
		spans = append(spans, span{2 + k, n + 1, parts})
	}
	in := func(yield func(span) bool) {
		for _, s := range spans {
			if !yield(s) {
				return
			}
		}
	}

	start := time.Now()
	seq, _ := primes.SumTrial(n)
	fmt.Printf("sequential:  sum %d in %v\n", seq, time.Since(start).Round(time.Millisecond))

	workers := runtime.NumCPU()
	goroutines := crew.Goroutines(crew.Workers(workers))
	processes, err := proc.New(crew.Workers(workers))
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, m := range []struct {
		name string
		ex   crew.Executor
	}{{"goroutines", goroutines}, {"processes", processes}} {
		start = time.Now()
		var sum uint64
		for r := range crew.Map(context.Background(), m.ex, sumSpan, in, crew.Unordered()) {
			sum += r.Value
		}
		fmt.Printf("%-11s  sum %d in %v (%d workers), same as sequential: %v\n", m.name+":", sum, time.Since(start).Round(time.Millisecond), workers, sum == seq)
		m.ex.Close()
	}
}
