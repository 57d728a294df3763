// Sum-primes answers the tutorials' question — the sum of the primes
// below 1e6, 2e6 and 3e6 — once with their trial division spread over
// goroutines with crew.Map (Python: Pool(2).map(sum_prime, [...])), and
// once with package primes' sieve, which is what you would really use.
package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/primes"
)

var sumPrime = crew.Register("examples.sum-prime", func(_ context.Context, n uint64) (uint64, error) {
	return primes.SumTrial(n)
})

func main() {
	ctx := context.Background()
	limits := []uint64{1_000_000, 2_000_000, 3_000_000}

	ex := crew.Goroutines(crew.Workers(2))
	defer ex.Close()
	start := time.Now()
	var sums []uint64
	for r := range crew.Map(ctx, ex, sumPrime, slices.Values(limits)) {
		if r.Err != nil {
			fmt.Println("error:", r.Err)
			return
		}
		sums = append(sums, r.Value)
	}
	trial := time.Since(start)

	start = time.Now()
	var fast []uint64
	for _, n := range limits {
		s, err := primes.Sum(ctx, n, runtime.NumCPU())
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fast = append(fast, s)
	}
	fmt.Println(sums)
	fmt.Printf("trial division on 2 goroutines: %v; sieve: %v; same answers: %v\n",
		trial.Round(time.Millisecond), time.Since(start).Round(time.Microsecond), slices.Equal(sums, fast))
}
