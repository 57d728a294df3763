package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCLI runs the crew command line in-process and returns its exit code,
// stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(t.Context(), args, Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{"version"}, 0, ""},
		{[]string{"--no-such-flag"}, 2, "unknown flag"},
		{[]string{"no-such-command"}, 2, `unknown command "no-such-command"`},
		{[]string{"version", "extra"}, 2, "unknown command"},
		{[]string{}, 0, ""},
	} {
		code, _, stderr := runCLI(t, "", tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.inStderr) {
			t.Errorf("crew %q: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr, tc.code, tc.inStderr)
		}
	}
}

func TestExitCodeInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := exitCode(ctx, context.Canceled); got != exitInterrupted {
		t.Errorf("exitCode(cancelled) = %d, want %d", got, exitInterrupted)
	}
	if got := exitCode(context.Background(), exitStatus{code: 101, err: errQuiet}); got != 101 {
		t.Errorf("exitCode(exitStatus 101) = %d", got)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "crew ") || !strings.Contains(out, "go1.") {
		t.Errorf("crew version: exit %d, output %q", code, out)
	}
}
