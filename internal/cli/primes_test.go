package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestPrimesCommand(t *testing.T) {
	for _, mode := range []string{"seq", "goroutines", "processes"} {
		code, out, stderr := runCLI(t, "", "primes", "sum", "1e6", "2e6", "--algo", "trial", "--mode", mode)
		if code != 0 || out != "sum(1000000) = 37550402023\nsum(2000000) = 142913828922\n" {
			t.Errorf("crew primes sum (%s): exit %d, out %q, err %q", mode, code, out, stderr)
		}
	}
	code, out, _ := runCLI(t, "", "primes", "check", "1116281", "1099726899285419", "2^61-1")
	if code != 0 || out != "check(1116281) = prime\ncheck(1099726899285419) = composite\ncheck(2305843009213693951) = prime\n" {
		t.Errorf("crew primes check: exit %d, out %q", code, out)
	}
	code, out, _ = runCLI(t, "", "primes", "count", "1e6", "--json")
	var a struct {
		Op    string `json:"op"`
		N     uint64 `json:"n"`
		Value uint64 `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &a); code != 0 || err != nil || a.Op != "count" || a.N != 1e6 || a.Value != 78498 {
		t.Errorf("crew primes count --json: exit %d, %q (%v)", code, out, err)
	}
	code, out, _ = runCLI(t, "", "primes", "sum", "100", "-v")
	if code != 0 || !strings.Contains(out, "sum(100) = 1060  [") || !strings.Contains(out, "total ") {
		t.Errorf("crew primes -v: exit %d, %q", code, out)
	}
}

func TestPrimesBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"primes", "sum", "12x"}, `argument 1: "12x"`},
		{[]string{"primes", "sum", "5", "-3"}, "unknown shorthand flag"},
		{[]string{"primes", "add", "5"}, `unknown operation "add"`},
		{[]string{"primes", "sum", "5", "--algo", "magic"}, "--algo"},
		{[]string{"primes", "sum", "5", "--mode", "threads"}, "--mode"},
		{[]string{"primes", "sum"}, "requires at least 2 arg"},
		{[]string{"primes", "sum", "5", "-j", "0"}, "-j 0"},
	} {
		code, _, stderr := runCLI(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.msg) {
			t.Errorf("crew %q: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, stderr, tc.msg)
		}
	}
	// A sum that overflows is a failed task, not bad usage; the others still print.
	code, out, stderr := runCLI(t, "", "primes", "sum", "4e10", "10", "--mode", "seq")
	if code != exitFailed || !strings.Contains(stderr, "overflows uint64") || out != "sum(10) = 17\n" {
		t.Errorf("crew primes sum 4e10 10: exit %d, out %q, err %q; want exit 1, the overflow reported, sum(10) printed", code, out, stderr)
	}
}

// An interrupt stops even a trial-division sum that would run for minutes:
// exit 130, and one message rather than one per input.
func TestPrimesInterrupted(t *testing.T) {
	for _, mode := range []string{"seq", "goroutines"} {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var out, errOut bytes.Buffer
		code := Main(ctx, []string{"primes", "sum", "1e10", "2e10", "--algo", "trial", "--mode", mode}, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
		if code != exitInterrupted || out.Len() != 0 || strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("%s: interrupted crew primes: exit %d, out %q, err %q; want exit 130, no answers, one line", mode, code, out.String(), errOut.String())
		}
	}
}
