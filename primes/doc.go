// Package primes sums, counts and tests primes two ways: by trial division
// exactly as the Python tutorials do (the CPU-bound workload of their
// threads-versus-processes experiments), and fast — a segmented sieve of
// Eratosthenes spread over goroutines, and a deterministic Miller–Rabin
// test for any 64-bit number. Both give the same answers.
//
//	s, err := primes.Sum(ctx, 1_000_000_000, runtime.NumCPU()) // ≈ 1 s on 2 cores
//	ok := primes.IsPrime(1<<61 - 1)                           // true, in microseconds
//	s2, err := primes.SumTrial(3_000_000)                      // the tutorials' loop
package primes
