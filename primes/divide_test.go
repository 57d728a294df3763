package primes

import (
	"math/rand/v2"
	"testing"
)

// Reference versions with the plain % operator, which the shortcuts in
// divide.go must match exactly.
func hasDivisorRef(n, lo, hi uint64) bool {
	for d := max(lo, 2); d < hi && d <= n/d; d++ {
		if n%d == 0 {
			return true
		}
	}
	return false
}

func isPrime6kRef[N uint32 | uint64](n N) bool {
	if n <= 3 {
		return n >= 2
	}
	if n%2 == 0 || n%3 == 0 {
		return false
	}
	for i := N(5); i <= n/i; i += 6 {
		if n%i == 0 || n%(i+2) == 0 {
			return false
		}
	}
	return true
}

// Every 32-bit divisibility test through the inverse table, for every
// divisor in it, on the numbers where mistakes would show: multiples,
// neighbours of multiples, and the top of the range.
func TestInverseTable(t *testing.T) {
	table := divisors6k()
	want := 0
	for d := 5; d < 1<<16; d++ {
		if d%2 != 0 && d%3 != 0 {
			want++
		}
	}
	if len(table) != want {
		t.Fatalf("%d divisors 6k±1 below 2¹⁶, want %d", len(table), want)
	}
	r := rand.New(rand.NewPCG(1, 2))
	prev := uint32(0)
	for _, e := range table {
		d := isqrt(uint64(e.square))
		if d*d != uint64(e.square) || d%2 == 0 || d%3 == 0 || uint32(d) <= prev {
			t.Fatalf("entry for d=%d: not a 6k±1 divisor in increasing order", d)
		}
		prev = uint32(d)
		for _, n := range []uint64{d, 2 * d, d * d, (1<<32 - 1) / d * d, r.Uint64N(1<<32/d) * d} {
			for _, m := range []uint64{n - 1, n, n + 1} {
				if m >= 1<<32 {
					continue
				}
				got := uint32(m)*e.inverse <= e.limit
				if want := m%d == 0; got != want {
					t.Fatalf("%d divisible by %d: table says %v, %% says %v", m, d, got, want)
				}
			}
		}
	}
}

func TestIsPrime6kMatchesReference(t *testing.T) {
	for n := range uint64(1 << 20) {
		if got, want := IsPrime6k(n), isPrime6kRef(n); got != want {
			t.Fatalf("IsPrime6k(%d) = %v, want %v", n, got, want)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	cases := []uint64{
		65521 * 65521, 65519 * 65521, 65521*65521 + 2, 1<<32 - 5, 1<<32 - 1, 1 << 32, 1<<32 + 15,
		1<<53 - 111 /* the largest prime below 2⁵³ */, 1<<53 - 1, 1 << 53, 1<<53 + 1,
		94906249 * 94906249, 94906247 * 94906249, // squares and products near 2⁵³
	}
	for range 2000 {
		cases = append(cases, r.Uint64N(1<<32), 1<<32+r.Uint64N(1<<38), r.Uint64N(1<<32)|1)
	}
	for _, n := range cases {
		if n >= 1<<45 && n%2 != 0 && n%3 != 0 && n%5 != 0 && n%7 != 0 {
			continue // too slow for the reference in a unit test; HasDivisor covers that range
		}
		if got, want := IsPrime6k(n), isPrime6kRef(n); got != want {
			t.Fatalf("IsPrime6k(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestHasDivisorMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	check := func(n, lo, hi uint64) {
		t.Helper()
		if got, want := HasDivisor(n, lo, hi), hasDivisorRef(n, lo, hi); got != want {
			t.Fatalf("HasDivisor(%d, %d, %d) = %v, want %v", n, lo, hi, got, want)
		}
	}
	for n := range uint64(5000) {
		for _, lo := range []uint64{0, 2, 3, 5, 17} {
			check(n, lo, lo+40)
		}
	}
	check(1000003, 1<<64-3, 1<<64-1) // lo near 2⁶⁴: d+4 must not wrap
	check(0, 1<<64-4, 1<<64-1)
	p, q := uint64(94906247), uint64(94906249) // primes; p·q < 2⁵³, the float path
	check(p*q, p-1000, p+1000)
	check(p*q, p+1, p+3000)
	check(q*q, q-3, q+3)
	check(q*q, q-3000, q)
	for _, top := range []uint64{1 << 32, 1 << 53, 1 << 63} {
		for range 300 {
			n := top - 1 - r.Uint64N(1<<20)
			lo := 2 + r.Uint64N(1<<20)
			check(n, lo, lo+1+r.Uint64N(300))
		}
	}
	for range 300 {
		d := 3 + r.Uint64N(1<<26)
		n := d * (d + r.Uint64N(1000)) // a divisor at d, near √n
		check(n, d-r.Uint64N(100), d+1+r.Uint64N(100))
		check(n+1, d-r.Uint64N(100), d+1+r.Uint64N(100))
	}
}

// Fuzz the shortcuts against the plain remainder.
func FuzzDivisibility(f *testing.F) {
	for _, n := range []uint64{0, 1, 4, 25, 65521 * 65521, 1<<53 - 111, 94906247 * 94906249, 1<<64 - 1} {
		f.Add(n, uint64(2))
	}
	f.Add(uint64(1000003), uint64(1<<64-3)) // lo near 2⁶⁴: d+4 wraps
	f.Fuzz(func(t *testing.T, n, lo uint64) {
		hi := lo + 2000
		if hi < lo {
			hi = 1<<64 - 1
		}
		if got, want := HasDivisor(n, lo, hi), hasDivisorRef(n, lo, hi); got != want {
			t.Fatalf("HasDivisor(%d, %d, %d) = %v, want %v", n, lo, hi, got, want)
		}
		if n %= 1 << 40; IsPrime6k(n) != isPrime6kRef(n) {
			t.Fatalf("IsPrime6k(%d) = %v, want %v", n, IsPrime6k(n), isPrime6kRef(n))
		}
	})
}

var sink bool

// BenchmarkDivisibility compares each shortcut with the plain remainder
// on the tutorials' work: the 6k±1 test of every number below 300,000,
// and 2²² trial divisors of the tutorial's largest number.
func BenchmarkDivisibility(b *testing.B) {
	b.Run("6k/table", func(b *testing.B) {
		for b.Loop() {
			for n := range uint64(300_000) {
				sink = IsPrime6k(n)
			}
		}
	})
	b.Run("6k/remainder", func(b *testing.B) { // in 32 bits, the faster division
		for b.Loop() {
			for n := range uint32(300_000) {
				sink = isPrime6kRef(n)
			}
		}
	})
	const big = 1099726899285419
	b.Run("divisors/float", func(b *testing.B) {
		for b.Loop() {
			sink = HasDivisor(big, 2, 1<<22)
		}
	})
	b.Run("divisors/remainder", func(b *testing.B) {
		for b.Loop() {
			sink = hasDivisorRef(big, 2, 1<<22)
		}
	})
}
