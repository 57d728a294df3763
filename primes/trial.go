package primes

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
)

// SumOverflows is a limit from which on every sum of primes overflows a
// uint64: the sum of the primes ≤ n exceeds n²/(2 ln n), which passes
// 2⁶⁴ before n = 3·10¹⁰. Sums check for overflow below it too.
const SumOverflows = 30_000_000_000

// ErrOverflow reports a sum of primes too large for a uint64 (it happens
// for limits above about 2.9e10).
var ErrOverflow = errors.New("primes: sum overflows uint64")

// IsPrime6k is the tutorials' is_prime: trial division by 2, 3 and the
// numbers 6k±1 up to √n, stopping at the first divisor. Each divisibility
// test takes the fastest exact route for n's size (see divides and
// divisors6k).
func IsPrime6k(n uint64) bool {
	if n < 1<<32 {
		return isPrime6k32(uint32(n))
	}
	if n%2 == 0 || n%3 == 0 {
		return false
	}
	root := isqrt(n)
	i := uint64(5)
	if n < floatExact {
		fn := float64(n)
		for ; i <= root; i += 6 {
			fi := float64(i)
			if divides(fn, fi) || divides(fn, fi+2) {
				return false
			}
		}
		return true
	}
	for ; i <= root; i += 6 {
		if n%i == 0 || n%(i+2) == 0 {
			return false
		}
	}
	return true
}

func isPrime6k32(n uint32) bool {
	if n <= 1 {
		return false
	} else if n <= 3 {
		return true
	} else if n%2 == 0 || n%3 == 0 {
		return false
	}
	for _, d := range divisors6k() {
		if d.square > n {
			return true
		}
		if n*d.inverse <= d.limit {
			return false
		}
	}
	return true // n ≥ 65533² (the last divisor in the table), with none below 2¹⁶
}

// IsPrimeTrial is the other tutorial's is_prime: try every divisor from 2
// up to √n. It is slow on purpose: it is the workload being measured.
func IsPrimeTrial(n uint64) bool {
	prime, _ := isPrimeTrial(context.Background(), n)
	return prime
}

// trialChunk is how many numbers, or divisors, the trial-division loops
// test between looks at their context: well under a millisecond of work,
// so that an interrupt stops even sum(1e10) --algo trial at once.
const trialChunk = 1 << 14

func isPrimeTrial(ctx context.Context, n uint64) (bool, error) {
	if n < 2 {
		return false, nil
	}
	for lo := uint64(2); lo <= n/lo; lo += trialChunk {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if HasDivisor(n, lo, lo+trialChunk) {
			return false, nil
		}
	}
	return true, nil
}

// HasDivisor reports whether n has a divisor d with lo ≤ d < hi and
// d² ≤ n, trying each in turn. Splitting [2, √n] into ranges lets
// several workers test one big number.
func HasDivisor(n, lo, hi uint64) bool {
	d, end := max(lo, 2), min(hi, isqrt(n)+1)
	if n < floatExact {
		fn := float64(n)
		for ; d < end && end-d >= 4; d += 4 { // not d+4 ≤ end: d+4 may wrap
			fd := float64(d)
			// Four independent divisions keep the divider busy.
			if divides(fn, fd) || divides(fn, fd+1) || divides(fn, fd+2) || divides(fn, fd+3) {
				return true
			}
		}
	}
	for ; d < end; d++ {
		if n%d == 0 {
			return true
		}
	}
	return false
}

// SumTrial returns the sum of the primes ≤ n by testing each number with
// IsPrime6k: the tutorials' sum_prime.
func SumTrial(n uint64) (uint64, error) {
	return sumTrial(context.Background(), n)
}

func sumTrial(ctx context.Context, n uint64) (uint64, error) {
	if n >= SumOverflows {
		return 0, fmt.Errorf("%w: sum of primes ≤ %d", ErrOverflow, n)
	}
	var s, carry uint64
	for lo := uint64(2); lo <= n; lo += trialChunk {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		part, err := SumTrialRange(lo, min(lo+trialChunk, n+1))
		if err != nil {
			return 0, err
		}
		if s, carry = bits.Add64(s, part, 0); carry != 0 {
			return 0, ErrOverflow
		}
	}
	return s, nil
}

// SumTrialRange returns the sum of the primes p with lo ≤ p < hi, by trial
// division, so that one sum can be split over workers.
func SumTrialRange(lo, hi uint64) (uint64, error) {
	var s, carry uint64
	for p := max(lo, 2); p < hi && p != 0; p++ {
		if IsPrime6k(p) {
			s, carry = bits.Add64(s, p, 0)
			if carry != 0 {
				return 0, ErrOverflow
			}
		}
	}
	return s, nil
}

// CountTrial returns how many primes are ≤ n, by trial division.
func CountTrial(n uint64) uint64 {
	c, _ := countTrial(context.Background(), n)
	return c
}

func countTrial(ctx context.Context, n uint64) (uint64, error) {
	var c uint64
	for p := uint64(2); p <= n && p != 0; p++ {
		if p%trialChunk == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if IsPrime6k(p) {
			c++
		}
	}
	return c, nil
}

// SumSquares returns the sum of x² for 0 ≤ x < n, wrapping modulo 2⁶⁴:
// the tutorials' "complex calculation", without building the list.
func SumSquares(n uint64) uint64 {
	var s uint64
	for x := range n {
		s += x * x
	}
	return s
}
