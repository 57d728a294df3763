package cli

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The compatibility cases of crew run: each runs once with GNU parallel
// (to record the golden, and live when parallel is installed) and once
// with crew, in a fresh directory holding the same files, and the stdout
// (sorted unless the run is ordered), the exit status, and the files or
// stderr a case names must be the same. go test ./internal/cli -run
// RunCompat -update-compat records the goldens again from GNU parallel.

var updateCompat = flag.Bool("update-compat", false, "rewrite testdata/run-compat.golden from GNU parallel (must be installed)")

type compatCase struct {
	name    string
	args    []string
	stdin   string
	ordered bool     // compare stdout as is, not as a sorted set of lines
	stderr  bool     // compare stderr too (times masked)
	files   []string // files (globs) whose names and contents are compared, times masked
	machine bool     // the answer depends on this machine (CPUs, limits): compared live only
}

// compatFixtures are the files every case starts with.
func compatFixtures(t *testing.T, dir string) {
	t.Helper()
	seq := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintln(&b, i)
		}
		return b.String()
	}
	files := map[string]string{
		"abc-file": "A\nB\nC\n", "def-file": "D\nE\nF\n", "abc0-file": "A\x00B\x00C\x00", "abc_-file": "A_B_C_",
		"tsv-file.tsv": "f1\tf2\nA\tB\nC\tD\n", "num8": seq(8), "num128": seq(128), "num30000": seq(30000),
		"num_%header": "%head1\n%head2\n" + seq(10), "csv-file": "\"1 big, 2 small\",\"2\"\"x4\"\" plank\",12.34\nx,\"multi\nline\",z\n",
		"cmds": "echo one\necho two  spaces\nexit 3\n", "jobs4": "4\n", "spaced": " a \n  \nb \n",
		"names.tsv": "Name\tE-mail\nann\ta@x\nbob\tb@x\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var compatCases = []compatCase{
	// :::+ and ::::+ link a source to the one before; --link reads all in step
	{name: "link-plus", args: []string{"-k", "echo", ":::", "A", "B", "C", "D", "E", ":::+", "F", "G"}, ordered: true},
	{name: "link-plus-files", args: []string{"-k", "echo", "::::", "abc-file", ":::", "G", "H", "I", "::::+", "def-file"}, ordered: true},
	{name: "link-plus-middle", args: []string{"-k", "echo", "::::", "abc-file", ":::+", "G", "H", "I", "::::", "def-file"}, ordered: true},
	{name: "link-plus-groups", args: []string{"-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2", "3", ":::", "X", "Y", ":::+", "11", "22"}, ordered: true},
	{name: "link-all", args: []string{"-k", "--link", "echo", ":::", "A", "B", "C", "D", "E", ":::", "F", "G"}, ordered: true},
	{name: "link-xapply-files", args: []string{"-k", "--xapply", "echo", "::::", "abc-file", "num8"}, ordered: true},
	{name: "link-empty-source", args: []string{"--link", "echo", ":::", "a", "b", "::::", "/dev/null"}},
	{name: "empty-source-among-others", args: []string{"-k", "--dry-run", "echo", ":::", "a", "b", "::::", "/dev/null"}, ordered: true},
	{name: "trailing-separator", args: []string{"echo", ":::"}},
	{name: "trailing-separator-stdin", args: []string{"echo", "x", ":::"}, stdin: "in\n"},
	{name: "empty-after-values", args: []string{"-k", "echo", ":::", "a", ":::"}, ordered: true},
	{name: "a-files-first", args: []string{"-k", "-a", "abc-file", "echo", ":::", "x", "y"}, ordered: true},

	// --pipe: GNU parallel's chunks, -N, -L, --block units, records, headers
	{name: "pipe-N3", args: []string{"-k", "--pipe", "-N3", "wc", "-l"}, stdin: seqString(10), ordered: true},
	{name: "pipe-block-100k", args: []string{"-k", "--pipe", "--block", "100k", "wc", "-c"}, stdin: seqString(100000), ordered: true},
	{name: "pipe-block-100K", args: []string{"-k", "--pipe", "--block", "100K", "wc", "-c"}, stdin: seqString(100000), ordered: true},
	{name: "pipe-block-expr", args: []string{"-k", "--pipe", "--block", "1M-12*2.024*2k", "wc", "-c"}, stdin: seqString(300000), ordered: true},
	{name: "pipe-L2", args: []string{"-k", "--pipe", "-L2", "--block", "10", "cat;", "echo", "--"}, stdin: "a\nb\nc\nd\ne\n", ordered: true},
	{name: "pipe-recend", args: []string{"-kN1", "--recend", ", ", "--pipe", "echo", "JOB{#};cat;echo", "END"}, stdin: "a, b, c, d", ordered: true},
	{name: "pipe-recstart", args: []string{"-kN1", "--recstart", "/", "--pipe", "echo", "JOB{#};cat;echo", "END"}, stdin: "/a/b/c", ordered: true},
	{name: "pipe-rrs", args: []string{"-k", "--recend", ";", "--rrs", "--pipe", "-N1", "wc", "-c"}, stdin: "aa;bbb;c;", ordered: true},
	{name: "pipe-regexp", args: []string{"-k", "--regexp", "--recstart", "[A-Z]", "--pipe", "-N2", "echo", "JOB;cat;echo"}, stdin: "Ab\nCd\nEf\ngh\nIj\n", ordered: true},
	{name: "pipe-header-lines", args: []string{"-k", "--header", "2", "--pipe", "-N3", "echo", "JOB{#};cat"}, stdin: "%head1\n%head2\n" + seqString(10), ordered: true},
	{name: "pipe-header-regexp", args: []string{"-k", "--header", `(%.*\n)*`, "--pipe", "-N3", "echo", "JOB{#};cat"}, stdin: "%head1\n%head2\n" + seqString(10), ordered: true},
	{name: "pipe-r", args: []string{"-k", "-r", "--pipe", "-N2", "cat;", "echo", "--"}, stdin: "a\n \n\nb\nc\n", ordered: true},
	{name: "pipe-part", args: []string{"-k", "--pipe-part", "--block", "10k", "-a", "num30000", "wc", "-l"}, ordered: true},
	{name: "pipe-part-vv", args: []string{"-k", "-vv", "--pipe-part", "--block", "100k", "wc", "-l", "::::", "num30000"}, ordered: true},
	{name: "pipe-round-robin-k", args: []string{"-k", "--pipe", "--round-robin", "-j3", "--block", "6", "wc", "-l"}, stdin: seqString(10), ordered: true},
	{name: "pipe-cat", args: []string{"-k", "--pipe", "-N2", "--cat", "wc", "-l", "{}"}, stdin: seqString(5), ordered: true},
	{name: "pipe-fifo", args: []string{"-k", "--pipe", "-N2", "--fifo", "wc -l < {}"}, stdin: seqString(5), ordered: true},
	{name: "pipe-tee", args: []string{"-k", "--pipe", "--tee", "echo {}; wc -l", ":::", "a", "b"}, stdin: seqString(5), ordered: true},
	{name: "pipe-tee-no-values", args: []string{"-k", "--pipe", "--tee", "echo {}; wc -l"}, stdin: seqString(5), ordered: true},
	{name: "pipe-csv", args: []string{"-k", "--pipe", "--csv", "--block", "5", "wc", "-l"}, stdin: "a,\"b\nc\"\nd,e\nf,\"g\nh\ni\"\n", ordered: true},

	// --results: directories, named files, CSV, TSV, JSON; nothing printed
	{name: "results-dir", args: []string{"--results", "out", "echo", ":::", "A", "B", "a/b", "..", ":::", "1", "2"}, files: []string{"out/*/*/*/*/*"}},
	{name: "results-header", args: []string{"--header", ":", "--results", "out", "echo", "{f1}", "{f2}", ":::", "f1", "A", "B", ":::", "f2", "C", "D"}, files: []string{"out/*/*/*/*/*"}},
	{name: "results-template", args: []string{"--results", "my_{}", "echo", ":::", "foo", "bar"}, files: []string{"my_*"}},
	{name: "results-template-dir", args: []string{"--results", "d_{}/", "echo", ":::", "foo", "bar"}, files: []string{"d_*/*"}},
	{name: "results-csv", args: []string{"-k", "--results", "out.csv", "echo", ":::", "a", "b c", ":::", "1", "2"}, files: []string{"out.csv"}},
	{name: "results-tsv", args: []string{"-k", "--results", "out.tsv", "echo", ":::", "a", "b\"c"}, files: []string{"out.tsv"}},
	{name: "results-json", args: []string{"-k", "--results", "out.json", "echo", ":::", `a"b`, "c\td"}, files: []string{"out.json"}},
	{name: "results-stdout-csv", args: []string{"-k", "--results", "-.csv", "echo", ":::", "a", "b"}, ordered: true},

	// --halt: GNU parallel's exit statuses
	{name: "halt-now-fail-2", args: []string{"-j1", "--halt", "now,fail=2", "exit {}", ":::", "0", "1", "2", "3"}},
	{name: "halt-soon-fail-1-status", args: []string{"-j1", "--halt", "soon,fail=1", "exit {}", ":::", "0", "3", "2"}},
	{name: "halt-fail-50pct", args: []string{"-j1", "--halt", "soon,fail=50%", "exit {}", ":::", "0", "1", "2", "3", "0", "0"}},
	{name: "halt-fail-50pct-unreached", args: []string{"-j1", "--halt", "soon,fail=50%", "exit {}", ":::", "0", "1", "0", "0", "0", "0"}},
	{name: "halt-success", args: []string{"-j1", "--halt", "now,success=1", "echo {}; exit {}", ":::", "1", "0", "2"}},
	{name: "halt-done", args: []string{"-j1", "--halt", "now,done=2", "echo {}; exit {}", ":::", "1", "0", "2"}},
	{name: "halt-signal-status", args: []string{"-j1", "--halt", "now,fail=1", "kill -9 $$", ":::", "1"}},
	{name: "halt-old-numeric", args: []string{"-j1", "--halt", "2", "exit {}", ":::", "0", "4", "5"}},

	// -k: joblog rows in input order; {%} and slots
	{name: "joblog-keep-order", args: []string{"-k", "-j3", "--joblog", "log", "sleep 0.{}; echo {}", ":::", "6", "1", "3"}, ordered: true, files: []string{"log"}},
	{name: "slots-keep-order", args: []string{"-k", "-j2", "sleep 0.{}; echo {%}", ":::", "8", "1", "1", "1"}, ordered: true},
	{name: "joblog-signal", args: []string{"--joblog", "log", "kill -9 $$", ":::", "1"}, files: []string{"log"}},
	{name: "joblog-append", args: []string{"--joblog", "+log", "echo", ":::", "x"}, files: []string{"log"}},

	// -N0, -n0, -L
	{name: "N0", args: []string{"-N0", "echo", "foo", ":::", "1", "2", "3"}},
	{name: "N0-dry", args: []string{"-k", "--dry-run", "-N0", "echo", "{#}", "{}", "x{}y", ":::", "1", "2"}, ordered: true},
	{name: "N2-context", args: []string{"-k", "--dry-run", "-N2", "echo", "x{}y", ":::", "a", "b", "c", "d"}, ordered: true},
	{name: "L2-continued", args: []string{"-k", "--dry-run", "-L2", "echo"}, stdin: "a\n  \nb  \nc\nd\n", ordered: true},

	// the command is the input
	{name: "commands-from-stdin", args: []string{"-k"}, stdin: "echo one\necho two  spaces\nexit 3\n", ordered: true},
	{name: "commands-from-file", args: []string{"-k", "-a", "cmds"}, ordered: true},
	{name: "commands-from-values", args: []string{"-k", ":::", "echo a  b", "echo 'c  d'"}, ordered: true},
	{name: "command-is-replacement", args: []string{"-k", "{}", ":::", "echo a  b"}, ordered: true},
	{name: "command-starts-with-replacement", args: []string{"-k", "--dry-run", "my_{}", "x", ":::", "a b"}, ordered: true},
	{name: "command-variable-assignment", args: []string{"-k", "--dry-run", "V={}", "echo", ":::", "a b"}, ordered: true},

	// -X, -m, --xargs, -s
	{name: "X", args: []string{"-k", "--jobs", "4", "-X", "echo", "pre-{}-post", ":::", "A", "B", "C", "D", "E", "F", "G"}, ordered: true},
	{name: "m", args: []string{"-k", "--jobs", "4", "-m", "echo", "pre-{}-post", ":::", "A", "B", "C", "D", "E", "F", "G"}, ordered: true},
	{name: "m-count", args: []string{"-k", "--jobs", "4", "-m", "echo", "::::", "num30000"}, ordered: true},
	{name: "xargs-count", args: []string{"-k", "--xargs", "echo", "::::", "num30000"}, ordered: true},
	{name: "xargs-s", args: []string{"-k", "--xargs", "-s", "10000", "echo", "::::", "num30000"}, ordered: true},
	{name: "X-n", args: []string{"-k", "-j2", "-n2", "-X", "--dry-run", "echo", "x{}y", "{1}", ":::", "a", "b", "c", "d"}, ordered: true},

	// replacement strings
	{name: "I", args: []string{"-I", ",,", "echo", ",,", ":::", "A/B.C"}},
	{name: "i-optional", args: []string{"--dry-run", "-i", "echo", "x{}", ":::", "a"}},
	{name: "replace-renames", args: []string{"-k", "--er", "X1", "--bnr", "X2", "--dnr", "X3", "--bner", "X4", "--seqreplace", "X5", "echo", "X1 X2 X3 X4 X5", ":::", "d/a.b.c", "e/f"}, ordered: true},
	{name: "slotreplace", args: []string{"-j1", "--slotreplace", ",,", "echo", ",,", ":::", "A", "B", "C"}},
	{name: "rpl-dynamic", args: []string{"--rpl", "{%(.+?)} s/$$1$//;", "echo", "{%.tar.gz}.zip", ":::", "foo.tar.gz"}},
	{name: "rpl-positional", args: []string{"-k", "-n3", "--rpl", "{/:%(.*?)} s:.*/(.*)$$1(\\.[^/]+)*$:$1:", "echo", "job", "{#}:", "{2}", "{2.}", "{3/:%_1}", ":::", "a/b.c", "c/d.e", "f/g_1.h.i"}, ordered: true},
	{name: "rpl-two-groups", args: []string{"--rpl", "{(.*?)/(.*?)} $_=\"$$2$_$$1\"", "echo", "{swap/these}", ":::", "-middle-"}},
	{name: "plus-ext", args: []string{"-k", "--plus", "echo", "{}", "{..}", "{+..}", "{...}", "{+...}", "{+/}", "{/..}", "{+.}", ":::", "dir/sub/file.ex1.ex2.ex3", "a", "a.b"}, ordered: true},
	{name: "plus-total", args: []string{"-k", "-j1", "--plus", "echo", "Job", "{#}", "of", "{##}", "{0#}", "{0%}", ":::", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}, ordered: true},
	{name: "plus-bash", args: []string{"-k", "--plus", "echo", "{:-x}", "{:2}", "{:1:2}", "{#ab}", "{##a*b}", "{%de}", "{%%d*e}", "{/b/X}", "{//b/X}", "{^a}", "{^^b}", "{,A}", "{,,B}", ":::", "abcdebde", "AbBa", ""}, ordered: true},
	{name: "plus-choose-uniq", args: []string{"-k", "--plus", "echo", "{choose_k}", ":::", "A", "B", "C", ":::", "A", "B", "C"}, ordered: true},
	{name: "plus-uniq", args: []string{"-k", "--plus", "echo", "{uniq}", ":::", "A", "B", ":::", "A", "B"}, ordered: true},
	{name: "perl-expr", args: []string{"-k", "echo", "{= s:\\.[^.]+$::;s:\\.[^.]+$::; =}", "{=2 $_=uc($_) =}", ":::", "foo.tar.gz", "x.y", ":::", "p"}, ordered: true},
	{name: "perl-split-words", args: []string{"-k", "echo", "{=", "$_=Q($_)", "=}", ":::", "*/!#$"}, ordered: true},
	{name: "perl-skip", args: []string{"-k", "--joblog", "log", "echo", "{= if($_==3) { skip() } =}", ":::", "1", "2", "3", "4"}, files: []string{"log"}},
	{name: "perl-total-seq-slot", args: []string{"-k", "-j1", "echo", "{= $_=total_jobs().\":\".seq().\":\".slot() =}", "{=1 $_=$job->seq() =}", "{= $_=$arg[1] =}", ":::", "a", "b"}, ordered: true},
	{name: "perl-uq", args: []string{"-k", "--dry-run", "echo", "{= $_=\"a b\"; uq() =}", "{= $_=\"a b\" =}", ":::", "x"}, ordered: true},
	{name: "perl-parens", args: []string{"-k", "--parens", ",,,,", "echo", "foo", "is", ",,s/I/O/g,,", ":::", "FII"}, ordered: true},
	{name: "perl-filter", args: []string{"-k", "--filter", "{1} < {2}+1", "echo", ":::", "1", "2", "3", ":::", "1", "2", "3"}, ordered: true},
	{name: "perl-negative-position", args: []string{"-k", "-N3", "echo", "{-1}", "{-2.}", ":::", "a.x", "b.y", "c.z"}, ordered: true},

	// --header
	{name: "header-values", args: []string{"-k", "--header", ":", "echo", "f1={f1}", "f2={f2}", "{f1.}", ":::", "f1", "A.x", "B", ":::", "f2", "C", "D"}, ordered: true},
	{name: "header-colsep-file", args: []string{"-k", "--colsep", "\\t", "--header", ":", "echo", "{Name}", "{E-mail}", "::::", "names.tsv"}, ordered: true},
	{name: "header-tsv-default", args: []string{"-k", "--header", ":", "echo", "{f2}", "::::", "tsv-file.tsv"}, ordered: true},
	{name: "header-0", args: []string{"-k", "--header", "0", "echo", "{abc-file}", "{def-file}", "::::", "abc-file", "def-file"}, ordered: true},

	// records: --trim, -d, -E, -r, --arg-sep, --arg-file-sep, --csv, --colsep
	{name: "trim-l", args: []string{"--trim", "l", "echo", "pre-{}-post", ":::", " A "}},
	{name: "trim-r", args: []string{"--trim", "r", "echo", "pre-{}-post", ":::", " A "}},
	{name: "trim-lr", args: []string{"--trim", "lr", "echo", "pre-{}-post", ":::", " A "}},
	{name: "colsep-trims", args: []string{"-k", "--colsep", ",", "echo", "[{1}]", "[{2}]", ":::", " a , b "}, ordered: true},
	{name: "d-underscore", args: []string{"-k", "-d", "_", "echo", "::::", "abc_-file"}, ordered: true},
	{name: "d-nul", args: []string{"-k", "-d", "\\0", "echo", "::::", "abc0-file"}, ordered: true},
	{name: "d-two-bytes", args: []string{"-k", "-d", "\\r\\n", "echo", "[{}]"}, stdin: "a\r\nb\nc\r\n", ordered: true},
	{name: "d-splits-values", args: []string{"-k", "-d", "_", "echo", "[{}]", ":::", "a_b", "c"}, ordered: true},
	{name: "E", args: []string{"-k", "-E", "stop", "echo", ":::", "A", "B", "stop", "C", "D"}, ordered: true},
	{name: "e-optional", args: []string{"-k", "-e", "stop", "echo", ":::", "A", "stop", "C"}, ordered: true},
	{name: "r", args: []string{"-k", "-r", "echo"}, stdin: "1\n\n   \n2\n", ordered: true},
	{name: "arg-sep", args: []string{"-k", "--arg-sep", ",,", "echo", ",,", "A", "B", "C", "::::", "def-file"}, ordered: true},
	{name: "arg-file-sep", args: []string{"-k", "--arg-file-sep", "//", "echo", ":::", "A", "B", "C", "//", "def-file"}, ordered: true},
	{name: "csv", args: []string{"-k", "--csv", "echo", "{1}", "of", "{2}", "at", "{3}", "::::", "csv-file"}, ordered: true},
	{name: "csv-colsep", args: []string{"-k", "--csv", "--colsep", ";", "echo", "Field 1: {1} Field 2: {2}"}, stdin: "\"Start of field 1 with newline\nLine 2 in field 1\";value 2\n", ordered: true},
	{name: "shuf", args: []string{"--shuf", "echo", ":::", "1", "2", "3", ":::", "a", "b"}},

	// output: -u, -v, -t, --tagstring, --files, --dry-run, --shellquote
	{name: "u", args: []string{"-j1", "-u", "echo", ":::", "a", "b"}, ordered: true},
	{name: "v", args: []string{"-k", "-v", "echo", ":::", "a", "b c"}, ordered: true},
	{name: "t", args: []string{"-j1", "-t", "echo", ":::", "a"}, ordered: true, stderr: true},
	{name: "v-dry", args: []string{"-v", "--dry-run", "echo", ":::", "a"}, ordered: true},
	{name: "dryrun-alias", args: []string{"-k", "--dryrun", "echo", "{}", ":::", "A", "B"}, ordered: true},
	{name: "tagstring", args: []string{"-k", "--tagstring", "{}-bar\\t{#}", "echo", "foo-{}", ":::", "A", "B"}, ordered: true},
	{name: "tag-cr", args: []string{"-k", "--tag", "printf", "a\\rb\\n\\nc", ":::", "x"}, ordered: true},
	{name: "tag-u-ignored", args: []string{"-u", "--tag", "echo", ":::", "a"}},
	{name: "files-content", args: []string{"-k", "--files", "--tmpdir", ".", "echo", ":::", "A", "B"}, files: []string{"par*.par"}},
	{name: "shellquote", args: []string{"--shellquote"}, stdin: "echo 'a b' $HOME\n"},
	{name: "shellquote-twice", args: []string{"--shellquote", "--shellquote"}, stdin: "a'b\n"},
	{name: "shellquote-empty", args: []string{"--shellquote"}},

	// jobs and limits
	{name: "P", args: []string{"-k", "-P", "2", "echo", ":::", "a", "b"}, ordered: true},
	{name: "j-file", args: []string{"-k", "-j", "jobs4", "echo", ":::", "a", "b"}, ordered: true},
	{name: "j-percent", machine: true, args: []string{"-k", "-j", "50%", "--dry-run", "echo", "{%}", ":::", "a", "b"}, ordered: true},
	{name: "timeout-pct", args: []string{"-k", "-j1", "--timeout", "300%", "sleep {}; echo {}", ":::", "0.5", "0.5", "0.5", "5"}, ordered: true},
	{name: "timeout-units", args: []string{"-k", "--timeout", "0.05m", "sleep {}; echo {}", ":::", "0.1", "5"}, ordered: true},
	{name: "retries", args: []string{"-k", "--retries", "3", "--joblog", "log", "echo x >> tries; exit 1", ":::", "a"}, files: []string{"tries"}},
	{name: "memfree", args: []string{"-k", "--memfree", "1k", "echo", ":::", "a", "b"}, ordered: true},
	{name: "load", args: []string{"-k", "--load", "1000", "echo", ":::", "a", "b"}, ordered: true},
	{name: "nice", args: []string{"--nice", "17", "echo", "this", "is", "being", "run", "with", "nice", "-n", ":::", "17"}},
	{name: "env", args: []string{"--env", "HOME", "echo", ":::", "a"}},
	{name: "seq-env", args: []string{"-k", "-N2", "echo", "seq:$PARALLEL_SEQ", "{1}", "{2}", ":::", "a", "b", "c"}, ordered: true},
	{name: "process-slot-var", args: []string{"-j1", "--process-slot-var", "S", "echo", "$S", "{}", ":::", "a"}},
	{name: "workdir", args: []string{"-k", "--wd", "sub{}", "basename $PWD", ":::", "1"}, files: []string{"sub1"}},
	{name: "number-of-cores", machine: true, args: []string{"--number-of-cores"}},
	{name: "number-of-cpus", machine: true, args: []string{"--number-of-cpus"}},
	{name: "number-of-threads", machine: true, args: []string{"--number-of-threads"}},
	{name: "number-of-sockets", machine: true, args: []string{"--number-of-sockets"}},
	{name: "max-line-length", machine: true, args: []string{"--max-line-length-allowed"}},
	{name: "minversion", args: []string{"--minversion", "20160822"}},
	{name: "semaphore-fg", args: []string{"--semaphore", "--id", "crewtest-fg", "--fg", "echo a; exit 3"}},
	{name: "semaphore-fg-j2", args: []string{"--semaphore", "--id", "crewtest-j2", "--fg", "-j2", "echo", "b"}},
	{name: "semaphore-wait", args: []string{"--semaphore", "--id", "crewtest-wait", "--wait"}},
	{name: "resume", args: []string{"-k", "--resume", "--joblog", "log", "echo", ":::", "a", "b", "c"}, files: []string{"log"}},
	{name: "retry-failed", args: []string{"-k", "--retry-failed", "--joblog", "retrylog", "ignored"}, files: []string{"retrylog"}},
}

func seqString(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintln(&b, i)
	}
	return b.String()
}

// compatSetup adds what some cases need besides the fixtures.
func compatSetup(t *testing.T, c compatCase, dir string) {
	t.Helper()
	switch c.name {
	case "resume":
		os.WriteFile(filepath.Join(dir, "log"), []byte(jobLogHeader+"2\t:\t1.000\t     0.000\t0\t2\t0\t0\techo b\n"), 0o644)
	case "retry-failed":
		os.WriteFile(filepath.Join(dir, "retrylog"), []byte(jobLogHeader+
			"1\t:\t1.000\t     0.000\t0\t2\t0\t0\techo ok\n2\t:\t1.000\t     0.000\t0\t2\t1\t0\techo again; exit 0\n"), 0o644)
	case "joblog-append":
		os.WriteFile(filepath.Join(dir, "log"), []byte("old line\n"), 0o644)
	}
}

const jobLogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

// timesRe matches what differs between two runs: times with milliseconds
// (start times, run times), temporary file names.
var timesRe = regexp.MustCompile(`\d+\.\d{3}|par[A-Za-z0-9_]{5}`)

// compatResult is what a case is compared by.
func compatResult(t *testing.T, c compatCase, dir string, code int, stdout, stderr string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "exit=%d\n", code)
	if !c.ordered {
		lines := strings.SplitAfter(stdout, "\n")
		sort.Strings(lines)
		stdout = strings.Join(lines, "")
	}
	b.WriteString(timesRe.ReplaceAllString(stdout, "T"))
	if c.stderr {
		b.WriteString("--- stderr\n" + strings.ReplaceAll(stderr, "crew run:", "parallel:"))
	}
	for _, g := range c.files {
		names, _ := filepath.Glob(filepath.Join(dir, g))
		if len(names) == 0 {
			fmt.Fprintf(&b, "--- %s: none\n", g)
		}
		var entries []string // sorted once masked: temporary names are random
		for _, n := range names {
			rel, _ := filepath.Rel(dir, n)
			rel = timesRe.ReplaceAllString(rel, "T")
			fi, err := os.Stat(n)
			if err == nil && fi.IsDir() {
				entries = append(entries, fmt.Sprintf("--- %s/\n", rel))
				continue
			}
			data, _ := os.ReadFile(n)
			entries = append(entries, fmt.Sprintf("--- %s\n%s\n", rel, timesRe.ReplaceAllString(string(data), "T")))
		}
		sort.Strings(entries)
		b.WriteString(strings.Join(entries, ""))
	}
	return b.String()
}

// compatRun is one run of a case: GNU parallel's or crew's, in a
// directory of its own.
type compatRun struct {
	c        compatCase
	dir      string
	cmd      *exec.Cmd
	out, err bytes.Buffer
}

// startGNUParallel starts a case with GNU parallel in a fresh directory.
func startGNUParallel(t *testing.T, c compatCase) *compatRun {
	t.Helper()
	return startCompat(t, c, exec.Command("parallel", c.args...))
}

// startCrew starts a case with the crew binary in a fresh directory.
func startCrew(t *testing.T, crew string, c compatCase) *compatRun {
	t.Helper()
	return startCompat(t, c, exec.Command(crew, append([]string{"run"}, c.args...)...))
}

// buildCrew builds the crew command into a temporary directory: as a
// process of its own, each case runs in its own directory, side by side.
func buildCrew(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "crew")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/crewrun/crew/cmd/crew").CombinedOutput(); err != nil {
		t.Fatalf("go build crew: %v\n%s", err, out)
	}
	return bin
}

func startCompat(t *testing.T, c compatCase, cmd *exec.Cmd) *compatRun {
	t.Helper()
	r := &compatRun{c: c, dir: compatDir(t, c), cmd: cmd}
	cmd.Dir = r.dir
	cmd.Stdin = strings.NewReader(c.stdin)
	cmd.Stdout, cmd.Stderr = &r.out, &r.err
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s %q: %v", cmd.Path, c.args, err)
	}
	return r
}

// result waits for the run to end and returns what the case is compared by.
func (r *compatRun) result(t *testing.T) string {
	t.Helper()
	err := r.cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %q: %v", r.cmd.Path, r.c.args, err)
	}
	return compatResult(t, r.c, r.dir, code, r.out.String(), r.err.String())
}

func compatDir(t *testing.T, c compatCase) string {
	dir := t.TempDir()
	compatFixtures(t, dir)
	compatSetup(t, c, dir)
	return dir
}

func compatGoldenPath() string { return filepath.Join("testdata", "run-compat.golden") }

func readCompatGolden(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(compatGoldenPath())
	if err != nil {
		t.Fatalf("%v (record it with -update-compat)", err)
	}
	want := map[string]string{}
	for _, chunk := range strings.Split(string(data), "\n=== ")[1:] {
		name, body, _ := strings.Cut(chunk, "\n")
		want[name] = body
	}
	return want
}

// TestRunCompat compares crew run with GNU parallel, case by case: with
// the recorded goldens always, with the installed parallel when there is
// one.
func TestRunCompat(t *testing.T) {
	_, liveErr := exec.LookPath("parallel")
	if *updateCompat {
		if liveErr != nil {
			t.Fatal("-update-compat needs GNU parallel installed")
		}
		var b strings.Builder
		for _, c := range compatCases {
			fmt.Fprintf(&b, "\n=== %s\n%s", c.name, startGNUParallel(t, c).result(t))
		}
		if err := os.WriteFile(compatGoldenPath(), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readCompatGolden(t)
	crew := buildCrew(t)
	names := map[string]bool{}
	for _, c := range compatCases {
		if names[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var live *compatRun // started first: it runs while crew does
			if liveErr == nil && !*updateCompat {
				live = startGNUParallel(t, c)
			}
			got := startCrew(t, crew, c).result(t)
			if w, ok := want[c.name]; c.machine {
				if liveErr != nil {
					t.Skip("depends on the machine: compared with the installed GNU parallel only")
				}
			} else if !ok {
				t.Errorf("no golden for %s: record it with -update-compat", c.name)
			} else if got != w {
				t.Errorf("crew run %q:\n%s\nGNU parallel (golden):\n%s", c.args, got, w)
			}
			if live != nil {
				if live := live.result(t); got != live && !slices.Contains(flakyLive, c.name) {
					t.Errorf("crew run %q:\n%s\nGNU parallel (installed):\n%s", c.args, got, live)
				}
			}
		})
	}
}

// flakyLive are cases whose GNU parallel output depends on the machine
// (CPU counts, line lengths) or time: compared with the golden only.
var flakyLive = []string{}
