package primes

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// Known values: sums from the tutorials' own output, counts π(n).
func TestKnownSumsAndCounts(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ n, sum, count uint64 }{
		{0, 0, 0}, {1, 0, 0}, {2, 2, 1}, {3, 5, 2}, {4, 5, 2}, {25, 100, 9},
		{1_000_000, 37550402023, 78498},
		{2_000_000, 142913828922, 148933},
		{3_000_000, 312471072265, 216816},
	} {
		for _, workers := range []int{1, 3} {
			if s, err := Sum(ctx, tc.n, workers); err != nil || s != tc.sum {
				t.Errorf("Sum(%d, %d workers) = %d, %v; want %d", tc.n, workers, s, err, tc.sum)
			}
			if c, err := Count(ctx, tc.n, workers); err != nil || c != tc.count {
				t.Errorf("Count(%d) = %d, %v; want %d", tc.n, c, err, tc.count)
			}
		}
		if tc.n <= 3_000_000 {
			if s, err := SumTrial(tc.n); err != nil || s != tc.sum {
				t.Errorf("SumTrial(%d) = %d, %v; want %d", tc.n, s, err, tc.sum)
			}
		}
	}
	if c, err := Count(ctx, 1e8, runtime.NumCPU()); err != nil || c != 5761455 {
		t.Errorf("Count(1e8) = %d, %v; want 5761455", c, err)
	}
}

func TestIsPrimeEdgeCases(t *testing.T) {
	for n, want := range map[uint64]bool{
		0: false, 1: false, 2: true, 3: true, 4: false, 25: false, 1681: false /* 41² */, 1693: true,
		1<<61 - 1: true, 1<<64 - 59: true, 1<<64 - 1: false, 1<<32 + 15: true, 4295098369: false, /* 65537² */
		3215031751:          false, // strong pseudoprime to bases 2, 3, 5, 7
		3825123056546413051: false, // strong pseudoprime to bases 2..23
		1116281:             true, 1099726899285419: false, 112272535095293: true,
	} {
		if got := IsPrime(n); got != want {
			t.Errorf("IsPrime(%d) = %v, want %v", n, got, want)
		}
		if n < 1<<50 {
			if got := IsPrime6k(n); got != want {
				t.Errorf("IsPrime6k(%d) = %v, want %v", n, got, want)
			}
		}
		if n < 1<<42 {
			if got := IsPrimeTrial(n); got != want {
				t.Errorf("IsPrimeTrial(%d) = %v, want %v", n, got, want)
			}
		}
	}
}

// The fast and the trial algorithms agree on every number in ranges and
// on random numbers.
func TestAlgorithmsAgree(t *testing.T) {
	for n := range uint64(20000) {
		if a, b, c := IsPrime(n), IsPrime6k(n), IsPrimeTrial(n); a != b || b != c {
			t.Fatalf("%d: IsPrime %v, IsPrime6k %v, IsPrimeTrial %v", n, a, b, c)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		n := r.Uint64N(1 << 36)
		if IsPrime(n) != IsPrime6k(n) {
			t.Fatalf("%d: IsPrime %v, IsPrime6k %v", n, IsPrime(n), IsPrime6k(n))
		}
	}
	for range 40 {
		n := r.Uint64N(300_000)
		trial, _ := SumTrial(n)
		fast, _ := Sum(context.Background(), n, 2)
		if trial != fast || CountTrial(n) != mustCount(t, n) {
			t.Fatalf("n=%d: SumTrial %d, Sum %d", n, trial, fast)
		}
	}
}

func mustCount(t *testing.T, n uint64) uint64 {
	c, err := Count(context.Background(), n, 2)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSegmentBoundaries(t *testing.T) {
	// Limits around segment edges, where off-by-one errors hide.
	span := uint64(2 * segmentBytes)
	for _, n := range []uint64{span - 1, span, span + 1, 2*span - 1, 2 * span, 2*span + 1} {
		trial, _ := SumTrial(n)
		if fast, err := Sum(context.Background(), n, 3); err != nil || fast != trial {
			t.Errorf("Sum(%d) = %d, %v; trial division says %d", n, fast, err, trial)
		}
	}
}

func TestLimitsAndErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Count(ctx, MaxSieve+1, 1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Count(MaxSieve+1) err = %v", err)
	}
	for _, n := range []uint64{SumOverflows, 1 << 40} {
		if _, err := Sum(ctx, n, 1); !errors.Is(err, ErrOverflow) {
			t.Errorf("Sum(%d) err = %v, want ErrOverflow", n, err)
		}
		if _, err := SumTrial(n); !errors.Is(err, ErrOverflow) {
			t.Errorf("SumTrial(%d) err = %v, want ErrOverflow", n, err)
		}
	}
	if _, err := SumTrialRange(1<<64-100, 1<<64-1); !errors.Is(err, ErrOverflow) {
		t.Errorf("SumTrialRange near 2^64 err = %v, want ErrOverflow", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Count(cancelled, 1e9, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("Count with cancelled ctx err = %v", err)
	}
	if SumSquares(4) != 14 || SumSquares(0) != 0 {
		t.Errorf("SumSquares(4) = %d", SumSquares(4))
	}
}

func FuzzIsPrimeAgrees(f *testing.F) {
	for _, n := range []uint64{0, 1, 2, 25, 1<<61 - 1, 4295098369} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n uint64) {
		n %= 1 << 40
		if IsPrime(n) != IsPrime6k(n) {
			t.Fatalf("%d: IsPrime %v, IsPrime6k %v", n, IsPrime(n), IsPrime6k(n))
		}
		if n < 1<<36 && IsPrime(n) != IsPrimeTrial(n) {
			t.Fatalf("%d: IsPrime %v, IsPrimeTrial %v", n, IsPrime(n), IsPrimeTrial(n))
		}
	})
}

// BenchmarkSum1e9 sieves to 1e9 on one goroutine and on one per CPU: the
// ratio is the speed-up from splitting segments between cores.
func BenchmarkSum1e9(b *testing.B) {
	for _, workers := range []int{1, runtime.NumCPU()} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				if _, err := Sum(context.Background(), 1e9, workers); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSum3e6 and BenchmarkSumTrial3e6 compare the sieve with the
// tutorials' trial division on their largest input, on one goroutine.
func BenchmarkSum3e6(b *testing.B) {
	for b.Loop() {
		if _, err := Sum(context.Background(), 3e6, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSumTrial3e6(b *testing.B) {
	for b.Loop() {
		SumTrial(3e6)
	}
}

func BenchmarkIsPrimeMillerRabin(b *testing.B) {
	for b.Loop() {
		IsPrime(1<<64 - 59)
	}
}

// Products of two primes below 2³² exercise Miller–Rabin's 128-bit
// multiplication all the way up to 2⁶⁴: every one must be composite, and
// every factor (checked by trial division, fast below 2³²) prime.
func TestIsPrimeSemiprimesUpTo64Bits(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	randomPrime := func() uint64 {
		for {
			if p := r.Uint64N(1<<32-1<<20) + 1<<20; IsPrime(p) {
				if !IsPrime6k(p) {
					t.Fatalf("IsPrime(%d) = true, trial division says composite", p)
				}
				return p
			}
		}
	}
	for range 2000 {
		p, q := randomPrime(), randomPrime()
		if IsPrime(p * q) {
			t.Fatalf("IsPrime(%d·%d = %d) = true", p, q, p*q)
		}
	}
	// Numbers near 2⁶⁴ with a small factor: trial division finds it at once.
	for n := uint64(1<<64 - 1); n > 1<<64-3000; n-- {
		if IsPrime(n) && HasDivisor(n, 2, 1<<20) {
			t.Fatalf("IsPrime(%d) = true, but it has a divisor below 2²⁰", n)
		}
	}
}

// The sieve gives the trial-division answer whatever the number of
// goroutines and wherever n falls in a segment.
func FuzzSumAgrees(f *testing.F) {
	for _, n := range []uint64{0, 1, 2, 3, 4, 25, 2 * segmentBytes, 2*segmentBytes + 1} {
		f.Add(n, uint8(1))
		f.Add(n, uint8(3))
	}
	f.Fuzz(func(t *testing.T, n uint64, workers uint8) {
		n %= 4 * segmentBytes
		w := int(workers%8) + 1
		trial, err := SumTrial(n)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := Sum(context.Background(), n, w)
		if err != nil || fast != trial {
			t.Fatalf("Sum(%d, %d workers) = %d, %v; SumTrial = %d", n, w, fast, err, trial)
		}
		if c, err := Count(context.Background(), n, w); err != nil || c != CountTrial(n) {
			t.Fatalf("Count(%d, %d workers) = %d, %v; CountTrial = %d", n, w, c, err, CountTrial(n))
		}
	})
}

// TestSieveWorkersBoundedBySegments checks that asking for far more
// workers than there are segments costs no more than the segments need.
func TestSieveWorkersBoundedBySegments(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if got, err := Sum(t.Context(), 10, 5000); err != nil || got != 17 {
		t.Fatalf("Sum(10) = %d, %v", got, err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("Sum(10) with 5000 workers allocated %d MiB", alloc>>20)
	}
}
