package primes

import "math/bits"

// IsPrime reports whether n is prime, for any uint64, with a
// Miller–Rabin test whose bases (the first twelve primes) are proven to
// make it exact below 3.3·10²⁴ — so for every 64-bit number.
func IsPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	for _, p := range smallPrimes {
		if n%p == 0 {
			return n == p
		}
	}
	if n < 41*41 {
		return true
	}
	d, s := n-1, 0
	for d%2 == 0 {
		d /= 2
		s++
	}
	for _, a := range smallPrimes {
		if !strongProbablePrime(n, a, d, s) {
			return false
		}
	}
	return true
}

var smallPrimes = []uint64{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37}

// strongProbablePrime runs one Miller–Rabin round with base a, where
// n-1 = d·2^s with d odd.
func strongProbablePrime(n, a, d uint64, s int) bool {
	x := powMod(a%n, d, n)
	if x == 1 || x == n-1 {
		return true
	}
	for range s - 1 {
		x = mulMod(x, x, n)
		if x == n-1 {
			return true
		}
	}
	return false
}

func mulMod(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, rem := bits.Div64(hi%m, lo, m)
	return rem
}

func powMod(b, e, m uint64) uint64 {
	r := uint64(1)
	for e > 0 {
		if e&1 == 1 {
			r = mulMod(r, b, m)
		}
		b = mulMod(b, b, m)
		e >>= 1
	}
	return r
}
