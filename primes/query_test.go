package primes

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/crewrun/crew"
)

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]uint64{
		"0": 0, "1000000": 1e6, "1_000_000": 1e6, "1e9": 1e9, "3E6": 3e6, "2^61-1": 1<<61 - 1,
		"2^64-59": 1<<64 - 59, "2^64-1": 1<<64 - 1, "2^10": 1024, "2^10+5": 1029, "18446744073709551615": 1<<64 - 1,
	} {
		if got, err := ParseNumber(in); err != nil || got != want {
			t.Errorf("ParseNumber(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "abc", "1.5", "1e20", "2^65", "2^64", "3^2", "2^3-9", "18446744073709551616", "2^63+9223372036854775808", "1e"} {
		if v, err := ParseNumber(in); err == nil {
			t.Errorf("ParseNumber(%q) = %d, want an error", in, v)
		}
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"1e9", "2^61-1", "1_000", "42", "2^64-59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseNumber(s)
		if err != nil {
			return
		}
		// Plain decimal input must read back exactly.
		if d, perr := strconv.ParseUint(s, 10, 64); perr == nil && d != v {
			t.Fatalf("ParseNumber(%q) = %d, strconv says %d", s, v, d)
		}
	})
}

func TestSolveAllModesAgree(t *testing.T) {
	ctx := context.Background()
	var qs []Query
	for _, algo := range []string{AlgoFast, AlgoTrial} {
		qs = append(qs,
			Query{Op: OpSum, N: 1e6, Algo: algo, Workers: 2},
			Query{Op: OpCount, N: 1e5, Algo: algo},
			Query{Op: OpCheck, N: 1116281, Algo: algo},
			Query{Op: OpCheck, N: 1, Algo: algo},
		)
	}
	want := []string{"sum(1000000) = 37550402023", "count(100000) = 9592", "check(1116281) = prime", "check(1) = neither prime nor composite"}
	ex := crew.Goroutines(crew.Workers(2))
	defer ex.Close()
	for name, e := range map[string]crew.Executor{"seq": nil, "goroutines": ex} {
		i := 0
		for r := range SolveAll(ctx, e, qs) {
			if r.Err != nil || r.Value.String() != want[i%len(want)] {
				t.Errorf("%s: answer %d = %v, %v; want %s", name, i, r.Value, r.Err, want[i%len(want)])
			}
			i++
		}
		if i != len(qs) {
			t.Errorf("%s: %d answers for %d queries", name, i, len(qs))
		}
	}
}

// An answer's JSON carries exactly its own result, false and zero included,
// and reads back as the same answer (worker processes send it this way).
func TestAnswerJSON(t *testing.T) {
	for _, tc := range []struct {
		a    Answer
		want string
	}{
		{Answer{Query: Query{Op: OpCheck, N: 0, Algo: AlgoFast}}, `{"op":"check","n":0,"algo":"fast","prime":false,"elapsed_ms":0}`},
		{Answer{Query: Query{Op: OpCheck, N: 2, Algo: AlgoTrial}, Prime: true}, `{"op":"check","n":2,"algo":"trial","prime":true,"elapsed_ms":0}`},
		{Answer{Query: Query{Op: OpSum, N: 1, Algo: AlgoFast, Workers: 2}}, `{"op":"sum","n":1,"algo":"fast","workers":2,"value":0,"elapsed_ms":0}`},
		{Answer{Query: Query{Op: OpCount, N: 10, Algo: AlgoFast}, Value: 4, ElapsedMS: 1.5}, `{"op":"count","n":10,"algo":"fast","value":4,"elapsed_ms":1.5}`},
	} {
		b, err := json.Marshal(tc.a)
		if err != nil || string(b) != tc.want {
			t.Errorf("json.Marshal(%v) = %s, %v; want %s", tc.a, b, err, tc.want)
		}
		var back Answer
		if err := json.Unmarshal(b, &back); err != nil || back != tc.a {
			t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", b, back, err, tc.a)
		}
	}
}

// Every query stops when its context is cancelled, even one that trial
// division would take minutes over.
func TestSolveStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, q := range []Query{
		{Op: OpSum, N: 1e10, Algo: AlgoTrial},
		{Op: OpCount, N: 1<<64 - 1, Algo: AlgoTrial},
		{Op: OpCheck, N: 1<<64 - 59, Algo: AlgoTrial},
		{Op: OpSum, N: 1e10, Algo: AlgoFast, Workers: 2},
		{Op: OpCount, N: 1e10, Algo: AlgoFast, Workers: 2},
	} {
		if a, err := Solve(ctx, q); !errors.Is(err, context.Canceled) {
			t.Errorf("Solve(%+v) with a cancelled context = %v, %v; want context.Canceled", q, a, err)
		}
	}
}
