package primes_test

import (
	"context"
	"fmt"

	"github.com/crewrun/crew/primes"
)

// The tutorials' sums, by their own algorithm and by the sieve.
func ExampleSum() {
	ctx := context.Background()
	for _, n := range []uint64{1_000_000, 2_000_000, 3_000_000} {
		fast, _ := primes.Sum(ctx, n, 2)
		trial, _ := primes.SumTrial(n)
		fmt.Println(n, fast, fast == trial)
	}
	// Output:
	// 1000000 37550402023 true
	// 2000000 142913828922 true
	// 3000000 312471072265 true
}

// Miller–Rabin answers for any 64-bit number at once; trial division by
// every number up to √n takes seconds on the largest of them.
func ExampleIsPrime() {
	for _, n := range []uint64{1116281, 112272535095293, 1099726899285419, 1<<61 - 1, 1<<64 - 59} {
		fmt.Println(n, primes.IsPrime(n))
	}
	// Output:
	// 1116281 true
	// 112272535095293 true
	// 1099726899285419 false
	// 2305843009213693951 true
	// 18446744073709551557 true
}

// A sum past about 2.9e10 does not fit in a uint64: Sum says so rather
// than wrap around.
func ExampleSum_overflow() {
	_, err := primes.Sum(context.Background(), 40_000_000_000, 2)
	fmt.Println(err)
	// Output:
	// primes: sum overflows uint64: sum of primes ≤ 40000000000
}

// SumSquares is the tutorials' "complex calculation", [x**2 for x in
// range(n)], summed rather than kept in a list. For the tutorials' n the
// true sum, 2666666466666670000000, passes 2⁶⁴, so the result is that sum
// modulo 2⁶⁴: the point is the CPU work, not the number.
func ExampleSumSquares() {
	fmt.Println(primes.SumSquares(4), primes.SumSquares(20_000_000))
	// Output:
	// 14 10335320052494567296
}
