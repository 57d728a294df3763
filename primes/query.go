package primes

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crewrun/crew"
)

// Operations a Query asks for.
const (
	OpSum   = "sum"
	OpCount = "count"
	OpCheck = "check"
)

// Algorithms a Query can use.
const (
	AlgoFast  = "fast"  // segmented sieve, Miller–Rabin
	AlgoTrial = "trial" // the tutorials' trial division
)

// Query is one question: the sum or count of the primes ≤ N, or whether N
// is prime.
type Query struct {
	Op      string `json:"op"`
	N       uint64 `json:"n"`
	Algo    string `json:"algo"`
	Workers int    `json:"workers,omitempty"` // goroutines for one sieve; 0 means 1
}

// Answer is a Query's result.
type Answer struct {
	Query
	Value     uint64  `json:"value"` // the sum or the count
	Prime     bool    `json:"prime"` // for OpCheck
	ElapsedMS float64 `json:"elapsed_ms"`
}

// MarshalJSON writes "value" for a sum or a count and "prime" for a check,
// and always writes it: a reader of crew primes --json finds "prime": false
// and "value": 0 spelled out rather than left to infer from a missing key.
func (a Answer) MarshalJSON() ([]byte, error) {
	type onlyItsOwn struct {
		Query
		Value     *uint64 `json:"value,omitempty"`
		Prime     *bool   `json:"prime,omitempty"`
		ElapsedMS float64 `json:"elapsed_ms"`
	}
	o := onlyItsOwn{Query: a.Query, ElapsedMS: a.ElapsedMS}
	if a.Op == OpCheck {
		o.Prime = &a.Prime
	} else {
		o.Value = &a.Value
	}
	return json.Marshal(o)
}

// String formats the answer as one line: "sum(1000000) = 37550402023".
func (a Answer) String() string {
	switch a.Op {
	case OpCheck:
		verdict := "composite"
		if a.Prime {
			verdict = "prime"
		} else if a.N < 2 {
			verdict = "neither prime nor composite"
		}
		return fmt.Sprintf("check(%d) = %s", a.N, verdict)
	default:
		return fmt.Sprintf("%s(%d) = %d", a.Op, a.N, a.Value)
	}
}

// Solve answers q in the calling goroutine.
func Solve(ctx context.Context, q Query) (Answer, error) {
	start := time.Now()
	a := Answer{Query: q}
	var err error
	switch {
	case q.Op == OpCheck && q.Algo == AlgoTrial:
		a.Prime, err = isPrimeTrial(ctx, q.N)
	case q.Op == OpCheck:
		a.Prime = IsPrime(q.N)
	case q.Op == OpSum && q.Algo == AlgoTrial:
		a.Value, err = sumTrial(ctx, q.N)
	case q.Op == OpSum:
		a.Value, err = Sum(ctx, q.N, max(1, q.Workers))
	case q.Op == OpCount && q.Algo == AlgoTrial:
		a.Value, err = countTrial(ctx, q.N)
	case q.Op == OpCount:
		a.Value, err = Count(ctx, q.N, max(1, q.Workers))
	default:
		err = fmt.Errorf("primes: unknown operation %q", q.Op)
	}
	if err != nil {
		return Answer{}, fmt.Errorf("%s(%d): %w", q.Op, q.N, err)
	}
	a.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
	return a, nil
}

// SolveTask is Solve as a crew task, so that queries run on any executor,
// worker processes included.
var SolveTask = crew.Register("primes.solve", Solve)

// SolveAll answers the queries on ex, yielding answers in query order. With
// a nil ex it answers them one after another in the calling goroutine.
func SolveAll(ctx context.Context, ex crew.Executor, qs []Query) iter.Seq[crew.Result[Answer]] {
	if ex != nil {
		return crew.Map(ctx, ex, SolveTask, slices.Values(qs))
	}
	return func(yield func(crew.Result[Answer]) bool) {
		for i, q := range qs {
			a, err := Solve(ctx, q)
			if !yield(crew.Result[Answer]{Index: i, Value: a, Err: err}) || ctx.Err() != nil {
				return
			}
		}
	}
}

// ParseNumber reads a non-negative integer written as digits (with
// optional _ separators), as AeB (1e9), or as a power of two with an
// optional offset (2^61-1, 2^64-59).
func ParseNumber(s string) (uint64, error) {
	orig := s
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	bad := func(why string) error { return fmt.Errorf("%q is not a number crew understands (%s)", orig, why) }
	if base, rest, ok := strings.Cut(s, "^"); ok {
		if base != "2" {
			return 0, bad("only powers of 2 are written with ^")
		}
		expPart, off, sign := rest, "", byte(0)
		if i := strings.IndexAny(rest, "+-"); i >= 0 {
			expPart, off, sign = rest[:i], rest[i+1:], rest[i]
		}
		e, err := strconv.ParseUint(expPart, 10, 8)
		if err != nil || e > 64 {
			return 0, bad("exponent must be 0..64")
		}
		var o uint64
		if sign != 0 {
			if o, err = strconv.ParseUint(off, 10, 64); err != nil {
				return 0, bad("bad offset")
			}
		}
		switch {
		case e == 64 && sign == '-' && o >= 1:
			return (1<<63 - o) + 1<<63, nil
		case e == 64:
			return 0, bad("2^64 does not fit in 64 bits")
		case sign == '-' && o > 1<<e:
			return 0, bad("negative")
		case sign == '-':
			return 1<<e - o, nil
		case sign == '+' && o > 1<<64-1-1<<e:
			return 0, bad("does not fit in 64 bits")
		default:
			return 1<<e + o, nil
		}
	}
	if m, e, ok := strings.Cut(strings.ToLower(s), "e"); ok {
		mant, err1 := strconv.ParseUint(m, 10, 64)
		exp, err2 := strconv.ParseUint(e, 10, 8)
		if err1 != nil || err2 != nil {
			return 0, bad("write AeB with whole A and B, like 1e9")
		}
		v := mant
		for range exp {
			if v > (1<<64-1)/10 {
				return 0, bad("does not fit in 64 bits")
			}
			v *= 10
		}
		return v, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, bad("want a whole number ≥ 0 below 2^64")
	}
	return v, nil
}
