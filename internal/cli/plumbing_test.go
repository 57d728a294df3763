package cli

import (
	"context"
	"strings"
	"testing"
)

// TestUsageErrorsBeforeWork checks arguments that used to be found late,
// or not at all: a -j beyond any machine (which ran out of memory starting
// goroutines), a --listen crew serve cannot use (which waited 10 s), a
// --rate of NaN (taken as unlimited).
func TestUsageErrorsBeforeWork(t *testing.T) {
	for _, args := range [][]string{
		{"primes", "sum", "100", "-j", "99999999999"},
		{"copy", "-j", "100000000", t.TempDir(), t.TempDir() + "/out"},
		{"fetch", "-j", "1000000", "http://127.0.0.1:1/"},
		{"serve", "--listen", "127.0.0.1:99999"},
		{"serve", "--listen", "bogus"},
		{"fetch", "--rate", "NaN", "http://127.0.0.1:1/"},
		{"fetch", "--rate", "+Inf", "http://127.0.0.1:1/"},
	} {
		code, _, stderr := runCLI(t, "", args...)
		if code != exitUsage || stderr == "" {
			t.Errorf("crew %s: exit %d, stderr %q; want exit 2 with a message", strings.Join(args, " "), code, stderr)
		}
	}
}

// TestInterruptedQuietly checks that an interruption is reported as one,
// not as Go's "context canceled".
func TestInterruptedQuietly(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errOut strings.Builder
	code := Main(ctx, []string{"primes", "sum", "1e9"}, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if code != exitInterrupted || errOut.String() != "crew: interrupted\n" {
		t.Errorf("interrupted crew primes: exit %d, stderr %q; want 130 and crew: interrupted", code, errOut.String())
	}
}

// TestFetchArgumentsAreURLs checks that each argument of crew fetch is one
// URL: one holding a newline is not two, and an empty one or a "#..." one
// is reported as bad, naming the argument, not skipped like a blank or
// comment line of a file.
func TestFetchArgumentsAreURLs(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "fetch", "http://127.0.0.1:1/x\nhttp://127.0.0.1:1/y", "", "# hi")
	if code != exitFailed || strings.Count(stdout, "\n") != 3 {
		t.Errorf("exit %d, %d result lines; want 1 and 3 (one per argument)\n%s", code, strings.Count(stdout, "\n"), stdout)
	}
	for _, want := range []string{"argument 1:", "argument 2:", "argument 3:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not name %q:\n%s", want, stderr)
		}
	}
}
