package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata goldens from GNU parallel (must be installed)")

// parallelCases are crew run invocations whose output must equal GNU
// parallel's. Each is run as `parallel ARGS` to record the golden, and as
// `crew run ARGS` in the test.
var parallelCases = [][]string{
	{"--dry-run", "echo", ":::", "a b", "it's", "$x", `a"b`, `back\slash`, "*", "new\nline", "ünï", "", "plain-1.2_x/y", "a,b", "a=b", "''", "'x", "x y z", "-n", "tab\there"},
	{"--dry-run", "echo", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}", ":::", "dir/sub/file.tar.gz", ".bashrc", "dir.d/file", "a.b.c", "/abs/x.y", "file", "dir/", "/", ""},
	{"--dry-run", "echo", "{1}", "{2}", "{2.}", "{1/}", "{2//}", ":::", "a", "b", ":::", "x.txt", "y/z.txt"},
	{"--dry-run", "echo", "{1}", "{3}", ":::", "a", ":::", "b", ":::", "c"},
	{"--dry-run", "-n", "2", "echo", ":::", "1", "2", "3", "4", "5"},
	{"--dry-run", "-N", "2", "echo", "{1}-{2}", ":::", "1", "2", "3", "4", "5"},
	{"--dry-run", "echo", "x{}y", "{abc}", "{}{}", ":::", "a b"},
	{"--dry-run", "echo {} | tr a b", ":::", "x y"},
	{"--dry-run", "-q", "echo", "a b", ":::", "x y"},
	{"--dry-run", "-q", "echo", "x{}y", "{#}", "{1}{2}", ":::", "a b", "it's", ":::", "$x"},
	{"--dry-run", "-q", "-n", "2", "echo", "x{}y", ":::", "a", "b", "c d", "e"},
	{"-k", "-q", "printf", `[%s]\n`, "{}", "<{.}>", ":::", "a b.c", "it's $HOME"},
	{"--dry-run", "echo", "a b", ":::", "x y"},
	{"-k", "echo", "{1}", "{2}", ":::", "a", "b", ":::", "1", "2"},
	{"-k", "--tag", "echo", ":::", "a", "b", ":::", "x", "y"},
	{"-k", "-j", "3", "echo", "job", "{#}", ":::", "a", "b", "c", "d", "e", "f", "g"},
	{"-k", "sh", "-c", "echo out {}; echo err {} >&2", ":::", "1", "2"},
	{"-k", "echo", "{}", ":::", "q r", "$HOME", "`date`", "a;b", "a|b", "a&b", "*"},
	{"-k", "-0", "echo", "[{}]", ":::", "a\nb", "c"},
	{"-k", "echo", "[{}]", ":::", "a\nb", "c"},
}

func goldenPath() string { return filepath.Join("testdata", "parallel-golden.txt") }

func recordCase(args []string) string {
	var b strings.Builder
	b.WriteString("### " + strings.Join(quoteAll(args), " ") + "\n")
	return b.String()
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(a, "\\", `\\`), "\n", `\n`)
		out[i] = "[" + out[i] + "]"
	}
	return out
}

// TestRunMatchesGNUParallel compares crew run with goldens recorded from
// GNU parallel (go test ./internal/cli -run GNUParallel -update to record
// them again). When parallel is installed, it also compares live.
func TestRunMatchesGNUParallel(t *testing.T) {
	if *update {
		var b bytes.Buffer
		for _, args := range parallelCases {
			out, err := exec.Command("parallel", args...).Output()
			if err != nil {
				t.Fatalf("parallel %q: %v\n%s", args, err, out)
			}
			b.WriteString(recordCase(args))
			b.Write(out)
		}
		if err := os.WriteFile(goldenPath(), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(goldenPath())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, chunk := range strings.Split(string(golden), "### ")[1:] {
		head, body, _ := strings.Cut(chunk, "\n")
		want[head] = body
	}
	_, liveErr := exec.LookPath("parallel")
	for _, args := range parallelCases {
		key := strings.TrimSuffix(strings.TrimPrefix(recordCase(args), "### "), "\n")
		code, out, stderr := runCLI(t, "", append([]string{"run"}, args...)...)
		if code != 0 {
			t.Errorf("crew run %q: exit %d: %s", args, code, stderr)
			continue
		}
		// Without -k, GNU parallel prints jobs as they end, so its order
		// varies (even with --dry-run): compare the lines as a set then.
		ordered := slices.Contains(args, "-k")
		if w, ok := want[key]; !ok {
			t.Errorf("no golden for %q: run with -update", args)
		} else if !sameOutput(out, w, ordered) {
			t.Errorf("crew run %q:\n%s\nGNU parallel (golden):\n%s", args, out, w)
		}
		if liveErr == nil {
			live, _ := exec.Command("parallel", args...).Output()
			if !sameOutput(out, string(live), ordered) {
				t.Errorf("crew run %q differs from the installed GNU parallel:\n%s\nparallel:\n%s", args, out, live)
			}
		}
	}
}

func sameOutput(a, b string, ordered bool) bool {
	if ordered {
		return a == b
	}
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(la)
	slices.Sort(lb)
	return slices.Equal(la, lb)
}

func TestRunUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"run", "--bogus", "echo"}, "unknown option: --bogus"},
		{[]string{"run", "-S", "server", "echo", ":::", "a"}, "--cluster"},
		{[]string{"run", "--sshlogin=server", "echo", ":::", "a"}, "--cluster"},
		{[]string{"run", "--slf", "hosts", "echo", ":::", "a"}, "--cluster"},
		{[]string{"run", "--tmux", "echo", ":::", "a"}, "tmux output is not supported"},
		{[]string{"run", "--d", "echo", ":::", "a"}, "ambiguous"},
		{[]string{"run", "echo", "{= syntax error ( =}", ":::", "a"}, "cannot use the Perl code"},
		{[]string{"run", "--rpl", "{x(+)} s/a/b/", "echo", ":::", "a"}, "replacement string"},
		{[]string{"run", "--trim", "x", "echo", ":::", "a"}, "--trim"},
		{[]string{"run", "-j", "nosuchfile", "echo", ":::", "a"}, "-j"},
		{[]string{"run", "-j", "x", "echo", ":::", "a"}, `-j "x"`},
		{[]string{"run", "--timeout", "-1", "echo", ":::", "a"}, `--timeout "-1"`},
		{[]string{"run", "--block", "huge", "--pipe", "wc"}, `--block "huge"`},
		{[]string{"run", "--block", "17179869185G", "--pipe", "wc"}, `--block "17179869185G"`}, // × 2³⁰ wraps around to 1G
		{[]string{"run", "--block", "99999999999G", "--pipe", "wc"}, `--block "99999999999G"`},
		{[]string{"run", "--timeout", "NaN", "echo", ":::", "a"}, `--timeout "NaN"`},
		{[]string{"run", "--timeout", "inf", "echo", ":::", "a"}, `--timeout "inf"`},
		{[]string{"run", "--timeout", "1e300", "echo", ":::", "a"}, `--timeout "1e300"`},
		{[]string{"run", "--delay", "-Inf", "echo", ":::", "a"}, `--delay "-Inf"`},
		{[]string{"run", "--resume", "echo", ":::", "a"}, "--resume and --resume-failed need --joblog"},
		{[]string{"run", "--halt", "sometimes", "echo", ":::", "a"}, "--halt"},
		{[]string{"run", "--pipe", "wc", ":::", "a"}, "--pipe reads standard input"},
		{[]string{"run", "-a", "/nonexistent/file", "echo"}, "-a /nonexistent/file"},
	} {
		code, _, stderr := runCLI(t, "", tc.args...)
		if code != 255 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("crew %q: exit %d, stderr %q; want 255 mentioning %q", tc.args, code, stderr, tc.msg)
		}
	}
	code, _, _ := runCLI(t, "", "run", "exit {}", ":::", "0", "1", "2")
	if code != 2 {
		t.Errorf("two failed jobs: exit %d, want 2", code)
	}
}

func TestRunEtaOnStderr(t *testing.T) {
	code, _, stderr := runCLI(t, "", "run", "--eta", "true", ":::", "1", "2", "3")
	if code != 0 || !strings.Contains(stderr, "100% 3/3 done, 0 failed, ETA 0s") {
		t.Errorf("crew run --eta: exit %d, stderr %q", code, stderr)
	}
}

// TestRunDirectoryInputRefused: a directory as :::: or -a file is a usage
// error naming it, and no job runs (GNU parallel runs none either).
func TestRunDirectoryInputRefused(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"run", "--dry-run", "rm", "-rf", "/data/{}", "::::", dir},
		{"run", "--dry-run", "-a", dir, "rm", "-rf", "/data/{}"},
		{"run", "--dry-run", "rm", "-rf", "/data/{}", ":::", "x", "::::", dir},
	} {
		flag := "::::"
		if args[2] == "-a" {
			flag = "-a"
		}
		code, out, stderr := runCLI(t, "", args...)
		if code != 255 || out != "" || !strings.Contains(stderr, flag+" "+dir) || !strings.Contains(stderr, "directory") {
			t.Errorf("crew %q: exit %d, stdout %q, stderr %q; want 255, no job, an error naming %s %s", args, code, out, stderr, flag, dir)
		}
	}
}

// TestRunInterruptedQuietly: an interrupted run exits 130 without a
// "context canceled" message; the status says it.
func TestRunInterruptedQuietly(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errOut bytes.Buffer
	code := Main(ctx, []string{"run", "echo", ":::", "a"}, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if code != 130 || errOut.String() != "" {
		t.Errorf("interrupted crew run: exit %d, stderr %q; want 130 and nothing", code, errOut.String())
	}
}
