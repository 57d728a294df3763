package primes

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
)

// MaxSieve is the largest limit Sum and Count accept: the sieve's base
// primes go up to √MaxSieve, and beyond it a count would run for hours.
const MaxSieve = 1 << 40

// ErrTooLarge reports a limit above MaxSieve.
var ErrTooLarge = errors.New("primes: limit too large for the sieve")

// segmentBytes is the sieve's working set per goroutine: it fits in a
// core's L2 cache. Each byte stands for one odd number.
const segmentBytes = 128 << 10

// Sum returns the sum of the primes ≤ n, with a segmented sieve of
// Eratosthenes spread over workers goroutines.
func Sum(ctx context.Context, n uint64, workers int) (uint64, error) {
	if n >= SumOverflows {
		return 0, fmt.Errorf("%w: sum of primes ≤ %d", ErrOverflow, n)
	}
	s, _, err := sieve(ctx, n, workers, true)
	return s, err
}

// Count returns how many primes are ≤ n, sieving on workers goroutines.
func Count(ctx context.Context, n uint64, workers int) (uint64, error) {
	_, c, err := sieve(ctx, n, workers, false)
	return c, err
}

func sieve(ctx context.Context, n uint64, workers int, sum bool) (uint64, uint64, error) {
	if n > MaxSieve {
		return 0, 0, fmt.Errorf("%w: %d > %d", ErrTooLarge, n, uint64(MaxSieve))
	}
	if n < 2 {
		return 0, 0, nil
	}
	base := smallSieve(isqrt(n))
	span := uint64(2 * segmentBytes) // numbers per segment
	segments := (n + span) / span    // segment i covers [i·span, (i+1)·span)
	var next atomic.Uint64
	var mu sync.Mutex
	var total, count uint64
	var firstErr error
	var wg sync.WaitGroup
	// No more goroutines than segments, each with its buffer: -j 20000 on a
	// small n must not allocate 20 000 segment buffers.
	for range min(uint64(max(1, workers)), segments) {
		wg.Go(func() {
			buf := make([]byte, segmentBytes)
			var s, c uint64
			var err error
			for err == nil {
				i := next.Add(1) - 1
				if i >= segments {
					break
				}
				if err = ctx.Err(); err != nil {
					break
				}
				var ss, cc uint64
				ss, cc, err = segment(buf, base, i*span, min((i+1)*span, n+1), sum)
				var carry uint64
				s, carry = bits.Add64(s, ss, 0)
				if carry != 0 {
					err = ErrOverflow
				}
				c += cc
			}
			mu.Lock()
			defer mu.Unlock()
			var carry uint64
			total, carry = bits.Add64(total, s, 0)
			count += c
			if err == nil && carry != 0 {
				err = ErrOverflow
			}
			if firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, 0, firstErr
	}
	return total, count, nil
}

// segment sieves the odd numbers of [lo, hi) (lo even) with the odd base
// primes, and returns the sum (if sum) and count of the primes in it.
func segment(buf []byte, base []uint32, lo, hi uint64, sum bool) (uint64, uint64, error) {
	odd := (hi - lo) / 2 // odd numbers lo+1, lo+3, ... below hi
	b := buf[:odd]
	clear(b)
	for _, p32 := range base {
		p := uint64(p32)
		if p*p >= hi {
			break
		}
		start := max(p*p, (lo+p-1)/p*p)
		if start%2 == 0 {
			start += p
		}
		for j := (start - lo - 1) / 2; j < odd; j += p {
			b[j] = 1
		}
	}
	var s, c, carry uint64
	if lo == 0 { // 1 is not prime, 2 is the even one
		b[0] = 1
		if hi > 2 {
			s, c = 2, 1
		}
	}
	for j, composite := range b {
		if composite == 0 {
			c++
			if sum {
				s, carry = bits.Add64(s, lo+1+2*uint64(j), 0)
				if carry != 0 {
					return 0, 0, ErrOverflow
				}
			}
		}
	}
	return s, c, nil
}

// smallSieve returns the odd primes ≤ n.
func smallSieve(n uint64) []uint32 {
	composite := make([]bool, n+1)
	var out []uint32
	for i := uint64(3); i <= n; i += 2 {
		if composite[i] {
			continue
		}
		out = append(out, uint32(i))
		for j := i * i; j <= n; j += 2 * i {
			composite[j] = true
		}
	}
	return out
}

// isqrt returns ⌊√n⌋.
func isqrt(n uint64) uint64 {
	r := uint64(0)
	for bit := uint64(1) << 32; bit > 0; bit >>= 1 {
		if c := r | bit; c <= n/c {
			r = c
		}
	}
	return r
}
