package bench

// Temporary copies of the seeds' workloads; replaced by package primes at merge.

// isPrime6k is the tutorials' is_prime: trial division by 2, 3 and 6k±1
// up to √n. Numbers below 2³² are divided in 32 bits, which the hardware
// divider does faster than 64-bit division.
func isPrime6k(n uint64) bool {
	if n < 1<<32 {
		return isPrime6k32(uint32(n))
	}
	if n <= 1 {
		return false
	} else if n <= 3 {
		return true
	} else if n%2 == 0 || n%3 == 0 {
		return false
	}
	for i := uint64(5); i*i <= n; i += 6 {
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
	for i := uint32(5); uint64(i)*uint64(i) <= uint64(n); i += 6 {
		if n%i == 0 || n%(i+2) == 0 {
			return false
		}
	}
	return true
}

func isPrimeTrial(n uint64) bool {
	for i := uint64(2); i*i <= n; i++ {
		if n%i == 0 {
			return false
		}
	}
	return n > 1
}

func sumSquares(n uint64) uint64 {
	var s uint64
	for x := range n {
		s += x * x
	}
	return s
}

// hasDivisor reports whether n has a divisor d with lo ≤ d < hi and d*d ≤ n.
func hasDivisor(n, lo, hi uint64) bool {
	for d := max(lo, 2); d < hi && d*d <= n; d++ {
		if n%d == 0 {
			return true
		}
	}
	return false
}
