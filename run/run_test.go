//go:build unix

package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("RUN_TEST_CHILD") != "" {
		childMain()
		return
	}
	goleak.VerifyTestMain(m)
}

func runOpts(t *testing.T, o Options) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	o.Stdout, o.Stderr = &out, &errb
	err := Run(t.Context(), o)
	return out.String(), errb.String(), err
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"": "''", "abc": "abc", "a b": "'a b'", "it's": `'it'"'"'s'`, "''": `"'"''"'"`, "'x": `"'"'x'`,
		"-n": "-n", "a/b.c+d_e": "a/b.c+d_e", "$x": "'$x'", "ü": "'ü'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzQuote checks that a shell reads every quoted string back unchanged.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a b", "it's", "$HOME", "`x`", "a\nb", "\\", "'\"'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			return // not representable in a command line
		}
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil || string(out) != s {
			t.Fatalf("sh read Quote(%q) = %s back as %q (%v)", s, Quote(s), out, err)
		}
		if words, ok := splitWords("printf %s " + Quote(s)); ok && (len(words) != 3 || words[2] != s) {
			t.Fatalf("splitWords disagrees with sh on %q: %q", Quote(s), words)
		}
	})
}

// FuzzTemplate: parsing never fails with the built-in replacement
// strings, and expanding never panics, in each mode (plain, -q, -X),
// whatever the command and arguments; Perl code is parsed, not run.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"echo {}", "{1.} {2//} {#}{%}", "{", "}{", "{{}}", "x{/.}y", "{=1=}", "{99999999999999999999}",
		"{= s/a/b/ =}x", "{=2 $_ =}", "{..}{+/}{##}", "{:-x}{:2}{:1:2}{-1}", "a{}b {} c"} {
		f.Add(s, "a b", "c/d.e", false)
	}
	f.Fuzz(func(t *testing.T, cmd, a, b string, plus bool) {
		rs, err := newRplSet(Replacements{Plus: plus})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []templateOptions{{}, {quoteWords: true}, {context: true}, {context: true, quoteWords: true}} {
			tmpl, err := parseTemplate([]string{cmd, a}, rs, o)
			if err != nil {
				t.Fatalf("parseTemplate(%q): %v", cmd, err)
			}
			for _, e := range tmpl.exprs {
				if e.nat == nil {
					return // Perl code: evaluated by perl, tested elsewhere
				}
			}
			env := &evalEnv{seq: 1, slot: 1, maxJobs: 2, total: func() int { return 2 }}
			for _, args := range [][]string{{a, b}, {""}, {noArg}} {
				env.args = args
				x := &expansion{t: tmpl, args: args, env: env, ev: newEvaluator("n", 2), quoteArg: tmpl.quoteArgs}
				if _, err := x.expand(); err != nil {
					t.Fatalf("expand %q with %q: %v", cmd, args, err)
				}
			}
		}
	})
}

func TestSplitWords(t *testing.T) {
	for line, want := range map[string][]string{
		"echo 'a b' c":       {"echo", "a b", "c"},
		`echo 'it'"'"'s'`:    {"echo", "it's"},
		"true":               {"true"},
		"gzip -9 'a b.txt'":  {"gzip", "-9", "a b.txt"},
		"echo '' x":          {"echo", "", "x"},
		"echo a | tr a b":    nil,
		"echo $HOME":         nil,
		"cd /tmp":            nil,
		"X=1 env":            nil,
		"echo a; echo b":     nil,
		`echo "$x"`:          nil,
		"echo 'unterminated": nil,
		"echo *":             nil,
	} {
		got, ok := splitWords(line)
		if (want == nil) == ok || !slices.Equal(got, want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", line, got, ok, want)
		}
	}
}

func TestJobLogAndResume(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "jobs.tsv")
	o := Options{Command: []string{"exit {}"}, Sources: []Source{Args("0", "3", "0", "5")}, Jobs: 2, JobLog: log}
	_, _, err := runOpts(t, o)
	var fe *FailedError
	if !errors.As(err, &fe) || fe.Failed != 2 || fe.ExitStatus() != 2 {
		t.Fatalf("err = %v, want 2 failed jobs", err)
	}
	b, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != strings.TrimSpace(jobLogHeader) || len(lines) != 5 {
		t.Fatalf("joblog:\n%s", b)
	}
	lineRE := regexp.MustCompile(`^\d+\t:\t\d+\.\d{3}\t +\d+\.\d{3}\t0\t0\t-?\d+\t\d+\texit \d$`)
	for _, l := range lines[1:] {
		if !lineRE.MatchString(l) {
			t.Errorf("joblog line %q is not in GNU parallel's format", l)
		}
	}
	// --resume runs nothing more; --resume-failed reruns the two failures.
	o.Resume = true
	if _, _, err := runOpts(t, o); err != nil {
		t.Errorf("--resume of a finished run: %v", err)
	}
	o.Resume, o.ResumeFailed = false, true
	o.Command = []string{"echo rerun {}"}
	out, _, err := runOpts(t, o)
	if err != nil || strings.Count(out, "rerun") != 2 || !strings.Contains(out, "rerun 3") || !strings.Contains(out, "rerun 5") {
		t.Errorf("--resume-failed: out %q, err %v; want jobs 3 and 5 rerun", out, err)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	// The job starts a grandchild that would outlive a plain kill of the shell.
	o := Options{Command: []string{fmt.Sprintf("sleep 60 & echo $! > %s; wait # job {}", pidFile)}, Sources: []Source{Args("x")}, Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, stderr, err := runOpts(t, o)
	var fe *FailedError
	if !errors.As(err, &fe) || fe.Failed != 1 || !strings.Contains(stderr, "timed out") {
		t.Fatalf("timed-out job: err %v, stderr %q", err, stderr)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("timeout took %v", d)
	}
	b, _ := os.ReadFile(pidFile)
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(10 * time.Second)
	for child > 0 && syscall.Kill(child, 0) == nil && !isZombie(child) {
		if time.Now().After(deadline) {
			t.Fatalf("the job's child %d survived the timeout", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || strings.Contains(string(b), ") Z ")
}

func TestHaltAndOrder(t *testing.T) {
	out, stderr, err := runOpts(t, Options{Command: []string{"echo {}; exit {}"}, Sources: []Source{Args("0", "3", "0", "4")}, Jobs: 1, Halt: Halt{Now: true, Count: 1}})
	var he *HaltError
	if !errors.As(err, &he) || he.Status != 3 || out != "0\n3\n" || !strings.Contains(stderr, "This job failed") {
		t.Errorf("--halt now,fail=1: out %q err %v stderr %q", out, err, stderr)
	}
	out, _, err = runOpts(t, Options{Command: []string{"sleep 0.{}; echo {}"}, Sources: []Source{Args("3", "1", "2")}, Jobs: 3, KeepOrder: true})
	if err != nil || out != "3\n1\n2\n" {
		t.Errorf("-k: %q, %v", out, err)
	}
	out, _, err = runOpts(t, Options{Command: []string{"sleep 0.{}; echo {}"}, Sources: []Source{Args("3", "1")}, Jobs: 2})
	if err != nil || out != "1\n3\n" {
		t.Errorf("without -k output comes as jobs finish: %q, %v", out, err)
	}
}

func TestGroupedOutputDoesNotInterleave(t *testing.T) {
	out, _, err := runOpts(t, Options{Command: []string{"for i in 1 2 3 4 5; do echo {}$i; sleep 0.01; done"}, Sources: []Source{Args("a", "b", "c")}, Jobs: 3})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := 0; i < len(lines); i += 5 {
		for k := 1; k < 5; k++ {
			if lines[i+k][0] != lines[i][0] {
				t.Fatalf("jobs' output interleaved:\n%s", out)
			}
		}
	}
}

func TestLineBufferAndStdin(t *testing.T) {
	out, _, err := runOpts(t, Options{Command: []string{"echo"}, Stdin: strings.NewReader("x\ny\n"), LineBuffer: true, Tag: true})
	if err != nil || !strings.Contains(out, "x\tx\n") || !strings.Contains(out, "y\ty\n") {
		t.Errorf("--line-buffer --tag from stdin: %q, %v", out, err)
	}
	out, _, err = runOpts(t, Options{Command: []string{"wc", "-l"}, Pipe: true, BlockSize: 6, Stdin: strings.NewReader("1\n2\n3\n4\n5\n"), KeepOrder: true})
	if err != nil || strings.Fields(out)[0] != "3" || len(strings.Fields(out)) != 2 {
		t.Errorf("--pipe --block 6: %q, %v", out, err)
	}
	out, _, err = runOpts(t, Options{Command: []string{"echo"}, Null: true, Stdin: strings.NewReader("a b\x00c\nd\x00"), KeepOrder: true})
	if err != nil || out != "a b\nc\nd\n" {
		t.Errorf("--null: %q, %v", out, err)
	}
}

func TestResultsStayInsideDir(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runOpts(t, Options{Command: []string{"echo"}, Sources: []Source{Args("../../escape", "/etc/passwd", "..")}, Results: dir})
	if err != nil || out != "" {
		t.Fatalf("--results printed %q, %v; GNU parallel prints nothing", out, err)
	}
	// GNU parallel's layout: DIR/1/<value>/, each / in a value written \_;
	// a value of .. names DIR itself.
	for seq, path := range []string{`1/..\_..\_escape/stdout`, `1/\_etc\_passwd/stdout`, "stdout"} {
		arg := []string{"../../escape", "/etc/passwd", ".."}[seq]
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil || string(b) != arg+"\n" {
			t.Errorf("results of job %d: %q, %v", seq+1, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(dir)), "escape")); err == nil {
		t.Error("a result was written outside the results directory")
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Command: []string{"echo", "{= syntax error ( =}"}, Sources: []Source{Args("a")}},
		{Command: []string{"echo"}, ColSep: "("},
		{Command: []string{"echo"}, JobLog: "/nonexistent/dir/log"},
	} {
		if _, _, err := runOpts(t, o); err == nil {
			t.Errorf("Run(%+v) accepted bad options", o)
		}
	}
	for _, h := range []string{"sometimes", "now,fail=x", "now,fail=-1", "soon,success=1.5%", "now,every=1", "now"} {
		if _, err := ParseHalt(h); err == nil {
			t.Errorf("ParseHalt(%q) accepted it", h)
		}
	}
}

func TestMissingInputFile(t *testing.T) {
	_, _, err := runOpts(t, Options{Command: []string{"echo"}, Sources: []Source{File(filepath.Join(t.TempDir(), "nope"))}})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing :::: file: err = %v", err)
	}
}

// TestKillAndResume kills a run with SIGKILL midway and resumes it: every
// job runs to completion exactly once, except at most those in flight at
// the kill, and the joblog records every finished job.
func TestKillAndResume(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "jobs.tsv")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(exe)
	child.Env = append(os.Environ(), "RUN_TEST_CHILD=1", "RUN_DIR="+dir, "RUN_LOG="+log)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until some jobs have finished, then kill crew's process.
	deadline := time.Now().Add(30 * time.Second)
	for countDone(dir) < 5 {
		if time.Now().After(deadline) {
			t.Fatal("jobs did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	logged := loggedSeqs(t, log)
	for _, seq := range logged {
		if _, err := os.Stat(filepath.Join(dir, "done-"+strconv.Itoa(seq))); err != nil {
			t.Errorf("joblog has job %d, which never finished", seq)
		}
	}
	// Resume: the rest run, nothing logged runs again.
	var out bytes.Buffer
	err = Run(context.Background(), Options{Command: childCommand(dir), Sources: []Source{Args(childInputs()...)}, Jobs: 2, JobLog: log, Resume: true, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out.String())
	}
	for i := 1; i <= 40; i++ {
		runs := countRuns(dir, i)
		if runs < 1 {
			t.Errorf("job %d never ran", i)
		}
		if slices.Contains(logged, i) && runs != 1 {
			t.Errorf("job %d was logged before the kill but ran %d times", i, runs)
		}
	}
	if n := len(loggedSeqs(t, log)); n != 40 {
		t.Errorf("joblog has %d jobs after the resume, want 40", n)
	}
}

func childInputs() []string {
	var in []string
	for i := 1; i <= 40; i++ {
		in = append(in, strconv.Itoa(i))
	}
	return in
}

// childCommand records a start, works a little, and marks the job done.
func childCommand(dir string) []string {
	return []string{fmt.Sprintf("echo x >> %s/runs-{}; sleep 0.05; touch %s/done-{}", dir, dir)}
}

func childMain() {
	dir, log := os.Getenv("RUN_DIR"), os.Getenv("RUN_LOG")
	err := Run(context.Background(), Options{Command: childCommand(dir), Sources: []Source{Args(childInputs()...)}, Jobs: 2, JobLog: log, Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

func countFiles(dir string) int {
	m, _ := filepath.Glob(filepath.Join(dir, "*"))
	return len(m)
}

func countDone(dir string) int {
	m, _ := filepath.Glob(filepath.Join(dir, "done-*"))
	return len(m)
}

func countRuns(dir string, seq int) int {
	b, _ := os.ReadFile(filepath.Join(dir, "runs-"+strconv.Itoa(seq)))
	return strings.Count(string(b), "x")
}

func loggedSeqs(t *testing.T, log string) []int {
	done := map[int]bool{}
	if _, err := readJobLog(log, false, done); err != nil {
		t.Fatal(err)
	}
	var seqs []int
	for s := range done {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	return seqs
}

func TestCancelKillsRunningJobs(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	dir := t.TempDir()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Command: []string{"touch " + dir + "/{}; sleep 60; echo never"}, Sources: []Source{Args("a", "b", "c")}, Jobs: 2, Stdout: &out, Stderr: &out})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for countFiles(dir) < 2 { // both slots are running a job
		if time.Now().After(deadline) {
			t.Fatal("jobs did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || strings.Contains(out.String(), "never") {
			t.Errorf("cancelled run: err %v, output %q", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

func TestProgressReported(t *testing.T) {
	var seen []Progress
	_, _, err := runOpts(t, Options{Command: []string{"true"}, Sources: []Source{Args("1", "2", "3", "4")}, Jobs: 2,
		Progress: func(p Progress) { seen = append(seen, p) }})
	if err != nil || len(seen) != 4 {
		t.Fatalf("progress calls %d, err %v", len(seen), err)
	}
	last := seen[len(seen)-1]
	if last.Done != 4 || last.Total != 4 || last.Failed != 0 || last.Started != 4 {
		t.Errorf("last progress %+v", last)
	}
}

// TestLargeOutputGroupedAndCounted: output far larger than a pipe's buffer
// is printed whole per job, and the joblog counts its bytes.
func TestLargeOutputGroupedAndCounted(t *testing.T) {
	log := filepath.Join(t.TempDir(), "jobs.tsv")
	const size = 1 << 20
	out, stderr, err := runOpts(t, Options{Command: []string{fmt.Sprintf("yes {} | head -c %d; echo err {} >&2", size)}, Sources: []Source{Args("a", "b", "c")}, Jobs: 3, JobLog: log})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3*size {
		t.Fatalf("stdout has %d bytes, want %d", len(out), 3*size)
	}
	for i := 0; i < 3; i++ {
		chunk := out[i*size : (i+1)*size]
		if strings.Count(chunk, chunk[:2]) != size/2 {
			t.Fatalf("job %d's output is not whole: it mixes with another's", i+1)
		}
	}
	if strings.Count(stderr, "err ") != 3 {
		t.Errorf("stderr %q", stderr)
	}
	b, _ := os.ReadFile(log)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		if f := strings.Split(line, "\t"); f[5] != strconv.Itoa(size) {
			t.Errorf("joblog Receive = %s, want %d: %q", f[5], size, line)
		}
	}
}

// TestBackgroundProcessDoesNotHoldJob: as with GNU parallel, a job ends
// when its process does, though a process it left in the background still
// holds its output open; the job's output is a file, not a pipe.
func TestBackgroundProcessDoesNotHoldJob(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	out, _, err := runOpts(t, Options{Command: []string{"sleep 60 & echo $! > " + pidFile + "; test -f /dev/stdout && echo {} is a file"}, Sources: []Source{Args("out")}})
	b, _ := os.ReadFile(pidFile)
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if err != nil || out != "out is a file\n" {
		t.Errorf("out %q, err %v", out, err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the job took %v: it waited for its background process", d)
	}
}

// TestResumeFailedKeepsOrder: with -k, the jobs a resumed joblog skips
// leave no gap that holds back the output of those that run again.
func TestResumeFailedKeepsOrder(t *testing.T) {
	log := filepath.Join(t.TempDir(), "jobs.tsv")
	o := Options{Command: []string{"test {} = 1"}, Sources: []Source{Args("1", "5", "1", "3", "1")}, Jobs: 2, JobLog: log}
	if _, _, err := runOpts(t, o); err == nil {
		t.Fatal("jobs 2 and 4 should have failed")
	}
	// Rerun jobs 2 and 4: job 4 ends first, but -k prints job 2 first.
	o.Command, o.ResumeFailed, o.KeepOrder, o.Jobs = []string{"sleep 0.{}; echo {}"}, true, true, 3
	out, _, err := runOpts(t, o)
	if err != nil || out != "5\n3\n" {
		t.Errorf("--resume-failed -k: out %q, err %v; want 5 then 3", out, err)
	}
}

func TestDelaySpacesStarts(t *testing.T) {
	start := time.Now()
	_, _, err := runOpts(t, Options{Command: []string{"true"}, Sources: []Source{Args("1", "2", "3")}, Jobs: 3, Delay: 200 * time.Millisecond})
	if d := time.Since(start); err != nil || d < 400*time.Millisecond {
		t.Errorf("3 jobs with --delay 0.2: took %v (want ≥ 400ms), err %v", d, err)
	}
}

// TestReadErrorRunsNoJob: a source that fails to read (here a directory
// opened as a file: read gives EISDIR) stops the run with the error and
// runs no job for the failed read — not one with an empty argument, with
// which `rm -rf /data/{}` removes /data itself.
func TestReadErrorRunsNoJob(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	marks := t.TempDir()
	out, _, err := runOpts(t, Options{Command: []string{"touch " + marks + "/job-{#}; echo ran [{}]"}, Sources: []Source{Reader(f)}})
	if err == nil || !errors.Is(err, syscall.EISDIR) {
		t.Errorf("err = %v, want the read error (is a directory)", err)
	}
	if out != "" || countFiles(marks) != 0 {
		t.Errorf("a job ran after the read error: output %q, %d job(s)", out, countFiles(marks))
	}
}

// TestDirectorySourceRefused: a directory given as a :::: file is refused
// before any job runs, with an error naming it, even when it is not the
// first source.
func TestDirectorySourceRefused(t *testing.T) {
	dir := t.TempDir()
	for _, sources := range [][]Source{
		{File(dir)},
		{File(dir), Args("a", "b")},
	} {
		marks := t.TempDir()
		out, _, err := runOpts(t, Options{Command: []string{"touch " + marks + "/job-{#}; echo ran"}, Sources: sources})
		if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "directory") {
			t.Errorf("directory source: err = %v, want one naming %s as a directory", err, dir)
		}
		if out != "" || countFiles(marks) != 0 {
			t.Errorf("jobs ran with a directory source: output %q", out)
		}
	}
}

// TestQuoteCommandQuotesExpandedWords: with QuoteCommand (-q) each command
// word is expanded first and then quoted whole, so an argument lands inside
// its word, as with GNU parallel -q (the wanted lines are parallel's); {}
// with several arguments makes a word of each, the first and last keeping
// the word's text before and after it.
func TestQuoteCommandQuotesExpandedWords(t *testing.T) {
	for _, tc := range []struct {
		cmd     []string
		sources []Source
		maxArgs int
		want    string
	}{
		{[]string{"echo", "x{}y"}, []Source{Args("a b")}, 0, "echo 'xa by'\n"},
		{[]string{"echo", "x{}y"}, []Source{Args("a", "b", "c d", "e")}, 2, "echo xa by\necho 'xc d' ey\n"},
		{[]string{"echo", "x{}y", "{#}", "{%}", "{1} {2}"}, []Source{Args("it's"), Args("$x")}, 0, `echo 'xit'"'"'s' '$xy' 1 1 'it'"'"'s $x'` + "\n"},
		{[]string{"echo", "{3}", "x{3}y"}, []Source{Args("a"), Args("b")}, 0, "echo '' xy\n"},
		{[]string{"echo", "", "{}"}, []Source{Args("")}, 0, "echo '' ''\n"},
		{[]string{"echo"}, []Source{Args("a b")}, 0, "echo 'a b'\n"},
		{[]string{"echo", "a b"}, []Source{Args("x y")}, 0, "echo 'a b' 'x y'\n"},
		{[]string{"echo", "x{}y{}z"}, []Source{Args("a", "b")}, 2, "echo xa bya bz\n"},
		{[]string{"echo", "{1}{2}"}, []Source{Args("a", "b", "c")}, 2, "echo ab\necho c\n"},
	} {
		out, _, err := runOpts(t, Options{Command: tc.cmd, QuoteCommand: true, Sources: tc.sources, MaxArgs: tc.maxArgs, DryRun: true})
		if err != nil || out != tc.want {
			t.Errorf("-q --dry-run %q: %q, %v; want %q", tc.cmd, out, err, tc.want)
		}
	}
	// Run for real: the argument reaches printf as one word.
	out, _, err := runOpts(t, Options{Command: []string{"printf", `[%s]\n`, "{}", "<{.}>"}, QuoteCommand: true, Sources: []Source{Args("a b.c", "it's $HOME")}, KeepOrder: true})
	if want := "[a b.c]\n[<a b>]\n[it's $HOME]\n[<it's $HOME>]\n"; err != nil || out != want {
		t.Errorf("-q printf: %q, %v; want %q", out, err, want)
	}
}

// TestPipeKeepsLongRecordsWhole: --pipe cuts blocks at record ends only,
// even for a record longer than the block size and than the read buffer
// (64 KiB): it makes a block of its own, as GNU parallel grows the block.
func TestPipeKeepsLongRecordsWhole(t *testing.T) {
	long := strings.Repeat("x", 100000)
	for _, tc := range []struct {
		in, want string
		null     bool
	}{
		// as GNU parallel 20221122 cuts them: the block grows until it holds
		// a record end, then the chunk ends at the last one in it
		{long + "\ny\n", "100003\n", false},
		{long, "100000\n", false},
		{"a\n" + long + "\n" + long + "\nb\n", "2\n100001\n100003\n", false},
		{long + "\x00y\x00", "100003\n", true}, // --pipe ends records at newlines, -0 or not
	} {
		out, _, err := runOpts(t, Options{Command: []string{"wc", "-c"}, Pipe: true, BlockSize: 1024, Null: tc.null, Stdin: strings.NewReader(tc.in), KeepOrder: true, Jobs: 2})
		if got := strings.Join(strings.Fields(out), "\n") + "\n"; err != nil || got != tc.want {
			t.Errorf("--pipe --block 1k of %d bytes: block sizes %q, %v; want %q", len(tc.in), got, err, tc.want)
		}
	}
}

// waitFiles waits until dir holds n files.
func waitFiles(t *testing.T, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for countFiles(dir) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d files in %s after 20s, want %d", countFiles(dir), dir, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCancelledJobsNotLogged: jobs crew kills because the run was
// cancelled (Ctrl-C) did not end on their own: as with GNU parallel they
// are neither printed, logged nor counted as failed, and --resume runs
// them again. --line-buffer runs jobs through os/exec rather than
// directly; it prints lines as they come, so only the log is checked.
func TestCancelledJobsNotLogged(t *testing.T) {
	for _, lineBuffer := range []bool{false, true} {
		log := filepath.Join(t.TempDir(), "jobs.tsv")
		marks := t.TempDir()
		ctx, cancel := context.WithCancel(t.Context())
		var out bytes.Buffer
		o := Options{Command: []string{"touch " + marks + "/{}; sleep 60; echo never"}, Sources: []Source{Args("1", "2", "3", "4")}, Jobs: 2, JobLog: log, LineBuffer: lineBuffer, Stdout: &out, Stderr: &out}
		done := make(chan error, 1)
		go func() { done <- Run(ctx, o) }()
		waitFiles(t, marks, 2)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled run (line buffer %v): err %v, want context.Canceled", lineBuffer, err)
		}
		if logged := loggedSeqs(t, log); len(logged) != 0 || out.String() != "" {
			t.Errorf("jobs killed by the cancellation (line buffer %v): logged %v, output %q; want neither", lineBuffer, logged, out.String())
		}
		o.Command, o.Resume, o.KeepOrder, o.LineBuffer = []string{"echo {}"}, true, true, false
		got, _, err := runOpts(t, o)
		if err != nil || got != "1\n2\n3\n4\n" {
			t.Errorf("--resume after the cancellation (line buffer %v): %q, %v; want all 4 jobs", lineBuffer, got, err)
		}
	}
}

// TestHaltNowKilledJobsNotLogged: with --halt now, the running jobs crew
// kills are not logged (nor printed, nor counted); the job that failed is,
// and --resume runs the killed one and the one never started.
func TestHaltNowKilledJobsNotLogged(t *testing.T) {
	log := filepath.Join(t.TempDir(), "jobs.tsv")
	marks := t.TempDir()
	// Job 1 runs until killed; job 2 fails once job 1 has started.
	cmd := fmt.Sprintf("touch %s/{}; echo started {}; if [ {} = fail ]; then while [ ! -e %s/slow ]; do sleep 0.01; done; exit 1; fi; sleep 60", marks, marks)
	o := Options{Command: []string{cmd}, Sources: []Source{Args("slow", "fail", "never")}, Jobs: 2, JobLog: log, Halt: Halt{Now: true, Count: 1}}
	out, _, err := runOpts(t, o)
	var he *HaltError
	if !errors.As(err, &he) || he.Status != 1 {
		t.Errorf("err %v, want a HaltError with status 1", err)
	}
	if logged := loggedSeqs(t, log); !slices.Equal(logged, []int{2}) || out != "started fail\n" {
		t.Errorf("--halt now: logged %v, output %q; want only job 2 (the failure)", logged, out)
	}
	o.Command, o.Resume, o.Halt, o.KeepOrder = []string{"echo {}"}, true, Halt{}, true
	got, _, err := runOpts(t, o)
	if err != nil || got != "slow\nnever\n" {
		t.Errorf("--resume after --halt now: %q, %v; want jobs 1 and 3", got, err)
	}
}

// TestLineBufferWritesResults: with --line-buffer, output printed as it
// comes is also kept for --results, whole lines and a last partial one.
func TestLineBufferWritesResults(t *testing.T) {
	dir := t.TempDir()
	out, stderr, err := runOpts(t, Options{Command: []string{"echo out {}; echo err {} >&2; printf 'no newline {}'"}, Sources: []Source{Args("a", "b")}, LineBuffer: true, Results: dir})
	if err != nil || !strings.Contains(out, "out a\n") || !strings.Contains(stderr, "err b\n") {
		t.Fatalf("out %q, stderr %q, err %v", out, stderr, err)
	}
	for seq, arg := range []string{"a", "b"} {
		for name, want := range map[string]string{"stdout": "out " + arg + "\nno newline " + arg, "stderr": "err " + arg + "\n"} {
			b, err := os.ReadFile(filepath.Join(dir, "1", arg, name))
			if err != nil || string(b) != want {
				t.Errorf("--line-buffer --results: job %d's %s %q, %v; want %q", seq+1, name, b, err, want)
			}
		}
	}
}

// syncBuffer is a bytes.Buffer that a test may read while a run writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLineBufferKeepOrder: --line-buffer with -k prints in input order, as
// GNU parallel does: the oldest unfinished job's lines as they come, a
// later job's lines held until it is the oldest.
func TestLineBufferKeepOrder(t *testing.T) {
	out, _, err := runOpts(t, Options{Command: []string{"sleep 0.{}; echo {}"}, Sources: []Source{Args("3", "1")}, Jobs: 2, LineBuffer: true, KeepOrder: true})
	if err != nil || out != "3\n1\n" {
		t.Errorf("--lb -k: %q, %v; want 3 then 1", out, err)
	}

	// Job 1 prints a, waits for the go file, prints b; job 2 prints c and
	// ends meanwhile. a must come at once, c only after b.
	goFile := filepath.Join(t.TempDir(), "go")
	cmd := fmt.Sprintf("if [ {} = 1 ]; then echo a; while [ ! -e %s ]; do sleep 0.01; done; echo b; else echo c; echo c err >&2; fi", goFile)
	var stdout syncBuffer
	var finished atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- Run(t.Context(), Options{Command: []string{cmd}, Sources: []Source{Args("1", "2")}, Jobs: 2, LineBuffer: true, KeepOrder: true,
			Stdout: &stdout, Stderr: &stdout, Progress: func(p Progress) { finished.Store(int64(p.Done)) }})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for stdout.String() == "" || finished.Load() < 1 { // job 1 printed, job 2 ended
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: output %q, %d job(s) done", stdout.String(), finished.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := stdout.String(); got != "a\n" {
		t.Errorf("while job 1 runs: output %q, want job 1's line a only, live", got)
	}
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || stdout.String() != "a\nb\nc\nc err\n" {
		t.Errorf("--lb -k: %q, %v; want a b c, c err", stdout.String(), err)
	}
}

// TestNullKeepsArgsWhole: with Null (-0) records end with NUL, so a ::: value
// with newlines is one argument; without, it is one per line. Both as GNU
// parallel 20221122 does; the job total for progress counts the same way.
func TestNullKeepsArgsWhole(t *testing.T) {
	for _, tc := range []struct {
		null  bool
		want  string
		total int
	}{
		{true, "[a\nb]\n[c]\n", 2},
		{false, "[a]\n[b]\n[c]\n", 3},
	} {
		var total int
		out, _, err := runOpts(t, Options{Command: []string{"echo", "[{}]"}, Sources: []Source{Args("a\nb", "c")}, Null: tc.null, KeepOrder: true,
			Progress: func(p Progress) { total = p.Total }})
		if err != nil || out != tc.want || total != tc.total {
			t.Errorf("Null %v: output %q, total %d, %v; want %q, total %d", tc.null, out, total, err, tc.want, tc.total)
		}
	}
}

// TestEmptySourcesRunNoJob: Args() with no values (a glob that matched
// nothing) and the zero Source are empty lists: when all sources are, no
// job runs and the run succeeds; an empty source among others counts as
// one empty value. Both as GNU parallel 20221122 does.
func TestEmptySourcesRunNoJob(t *testing.T) {
	for _, sources := range [][]Source{
		{Args()},
		{Source{}},
		{Args(), Source{}},
		{Args([]string{}...)},
	} {
		out, stderr, err := runOpts(t, Options{Command: []string{"echo", "ran"}, Sources: sources})
		if err != nil || out != "" || stderr != "" {
			t.Errorf("sources %+v: out %q, stderr %q, err %v; want no job", sources, out, stderr, err)
		}
	}
	for _, tc := range []struct {
		sources []Source
		want    string
	}{
		{[]Source{Args("a"), Args()}, "echo ran a ''\n"},
		{[]Source{Args(), Args("a")}, "echo ran '' a\n"},
		{[]Source{Source{}, Args("a", "b")}, "echo ran '' a\necho ran '' b\n"},
	} {
		out, _, err := runOpts(t, Options{Command: []string{"echo", "ran"}, Sources: tc.sources, DryRun: true})
		if err != nil || out != tc.want {
			t.Errorf("sources %+v: %q, %v; want %q", tc.sources, out, err, tc.want)
		}
	}
	// Neither a file without a name nor no reader is an empty list.
	for _, s := range []Source{File(""), Reader(nil)} {
		if out, _, err := runOpts(t, Options{Command: []string{"echo", "ran"}, Sources: []Source{s}}); err == nil || out != "" {
			t.Errorf("source %+v: out %q, err %v; want an error and no job", s, out, err)
		}
	}
}

// TestDryRunShowsLinesAsTheyCome: --dry-run writes its lines in batches,
// but a line read from a slow input is shown before the next one comes.
func TestDryRunShowsLinesAsTheyCome(t *testing.T) {
	in, feed := io.Pipe()
	out := &syncBuffer{}
	done := make(chan error)
	go func() {
		done <- Run(t.Context(), Options{Command: []string{"echo"}, Sources: []Source{Reader(in)}, DryRun: true, Jobs: 1, Stdout: out, Stderr: io.Discard})
	}()
	for _, v := range []string{"a", "b"} {
		feed.Write([]byte(v + "\n"))
		want := "echo " + v + "\n"
		for deadline := time.Now().Add(10 * time.Second); !strings.HasSuffix(out.String(), want); {
			if time.Now().After(deadline) {
				t.Fatalf("--dry-run held %q back while the input waited: stdout %q", want, out.String())
			}
			time.Sleep(5 * time.Millisecond) // polling the output
		}
	}
	feed.Close()
	if err := <-done; err != nil || out.String() != "echo a\necho b\n" {
		t.Errorf("--dry-run: %q, %v", out.String(), err)
	}
}
