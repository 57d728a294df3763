// Is-prime tests the tutorials' list of numbers for primality on a pool
// of workers and prints each answer in list order (Python:
// executor.map(is_prime, PRIMES)). The test is the tutorials' trial
// division up to √n; primes.IsPrime would answer in microseconds.
package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/primes"
)

var numbers = []uint64{
	1116281, 1297337, 104395303, 472882027, 533000389, 817504243, 982451653,
	112272535095293, 112582705942171, 112272535095293, 115280095190773,
	115797848077099, 1099726899285419,
}

var isPrime = crew.Register("examples.is-prime", func(_ context.Context, n uint64) (bool, error) {
	return primes.IsPrimeTrial(n), nil
})

func main() {
	ex := crew.Goroutines() // one worker per CPU: no GIL to get around
	defer ex.Close()
	for r := range crew.Map(context.Background(), ex, isPrime, slices.Values(numbers)) {
		fmt.Printf("%d is prime: %v\n", numbers[r.Index], r.Value)
	}
}
