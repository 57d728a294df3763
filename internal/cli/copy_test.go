package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewrun/crew/treecopy"
)

func TestCopyCommandExitCodes(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("src/sub", filepath.Join(dir, "lnk")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "precious"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		out     string
		errPart string
	}{
		{"dry run lists", []string{"copy", "--dry-run", src + "/", filepath.Join(dir, "d1")}, 0, "./\nsub/\nsub/f\n", ""},
		{"copy", []string{"copy", "-q", src + "/", filepath.Join(dir, "d2")}, 0, "", ""},
		{"directory onto a missing DST without a slash", []string{"copy", src, filepath.Join(dir, "d4")}, 2, "", "does not exist: write"},
		{"directory onto an existing file without a slash", []string{"copy", src, filepath.Join(dir, "precious")}, 2, "", "precious is a file, not replaced by a copy of the directory"},
		{"max-delete without delete", []string{"copy", "--max-delete", "3", src + "/", filepath.Join(dir, "d5")}, 2, "", "--max-delete limits --delete"},
		{"inside source", []string{"copy", src + "/", filepath.Join(src, "in")}, 2, "", "inside source"},
		{"same through a symlink and ..", []string{"copy", filepath.Join(dir, "lnk") + "/..", src}, 2, "", "the same"},
		{"inside through a symlink and ..", []string{"copy", src + "/", filepath.Join(dir, "lnk") + "/../in"}, 2, "", "inside source"},
		{"missing source", []string{"copy", filepath.Join(dir, "nope"), filepath.Join(dir, "d3")}, 2, "", "no such file"},
		{"one argument", []string{"copy", src}, 2, "", "SRC and DST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(t.Context(), tc.args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != tc.code || out.String() != tc.out || !strings.Contains(errb.String(), tc.errPart) {
				t.Fatalf("code %d out %q err %q", code, out.String(), errb.String())
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "d1")); err == nil {
		t.Error("dry run created the destination")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "d2", "sub", "f")); string(got) != "x" {
		t.Errorf("copy content %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "precious")); string(got) != "keep" {
		t.Errorf("the file DST is %q", got)
	}
	// A dry run's summary counts the files it would copy (it said "would
	// copy 2 directories").
	_, _, stderr := runCrewCopy(t, "copy", "--dry-run", src+"/", filepath.Join(dir, "d1"))
	if !strings.HasPrefix(stderr, "would copy 1 file (1 B), 2 directories; 0 up to date") {
		t.Errorf("dry run summary %q", stderr)
	}
}

// treeSize, which gives the progress bar its total, adds up regular files
// only.
func TestTreeSize(t *testing.T) {
	root := t.TempDir()
	for name, size := range map[string]int{"a": 10, "d/b": 2000, "d/e/c": 0, "d/e/f": 7} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	// Allocated size, no more than the length: 10 + 2000 + 7 on a file
	// system that allocates what is written.
	if got, err := treeSize(t.Context(), root); err != nil || got != 2017 {
		t.Errorf("treeSize = %d, %v; want 2017", got, err)
	}
}

// crew copy FILE DIR puts the file inside the directory, as cp -a does,
// and leaves what the directory held.
func TestCopyFileIntoDirectory(t *testing.T) {
	dir := t.TempDir()
	file, backup := filepath.Join(dir, "f.txt"), filepath.Join(dir, "backup")
	if err := os.WriteFile(file, []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(backup, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(backup, "keep", "data"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Main(t.Context(), []string{"copy", "-q", file, backup}, Streams{In: strings.NewReader(""), Out: &out, Err: &errb}); code != 0 {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
	if got, _ := os.ReadFile(filepath.Join(backup, "keep", "data")); string(got) != "precious" {
		t.Errorf("backup/keep/data = %q: the directory's content was lost", got)
	}
	if got, _ := os.ReadFile(filepath.Join(backup, "f.txt")); string(got) != "hi" {
		t.Errorf("backup/f.txt = %q, want the file copied inside", got)
	}
}

// TestCopyDestinationRule checks where crew copy puts SRC for each
// spelling in its --help, files and directories alike, and that every
// accepted spelling lands in the same place when run again.
func TestCopyDestinationRule(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   func(dir string) []string
		exists []string // made before, under dir
		want   string   // where src/f (or the file) arrives, under dir
		code   int
	}{
		{"contents into a new DST", func(d string) []string { return []string{d + "/src/", d + "/out"} }, nil, "out/f", 0},
		{"directory into DST/", func(d string) []string { return []string{d + "/src", d + "/out/"} }, nil, "out/src/f", 0},
		{"directory into an existing DST", func(d string) []string { return []string{d + "/src", d + "/out"} }, []string{"out/"}, "out/src/f", 0},
		{"directory onto a missing DST", func(d string) []string { return []string{d + "/src", d + "/out"} }, nil, "", 2},
		{"file onto a missing DST", func(d string) []string { return []string{d + "/file", d + "/out"} }, nil, "out", 0},
		{"file into DST/", func(d string) []string { return []string{d + "/file", d + "/out/"} }, nil, "out/file", 0},
		{"file into an existing DST", func(d string) []string { return []string{d + "/file", d + "/out"} }, []string{"out/"}, "out/file", 0},
		{"several into DST", func(d string) []string { return []string{d + "/src", d + "/file", d + "/out"} }, nil, "out/file", 0},
		{"several onto a file", func(d string) []string { return []string{d + "/src", d + "/file", d + "/out"} }, []string{"out"}, "", 2},
		{"directory contents onto a file", func(d string) []string { return []string{d + "/src/", d + "/out"} }, []string{"out"}, "", 2},
		{"file with a trailing slash", func(d string) []string { return []string{d + "/file/", d + "/out"} }, nil, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mustCopy(t, os.MkdirAll(filepath.Join(dir, "src"), 0o755))
			mustCopy(t, os.WriteFile(filepath.Join(dir, "src", "f"), []byte("f"), 0o644))
			mustCopy(t, os.WriteFile(filepath.Join(dir, "file"), []byte("f"), 0o644))
			for _, p := range tc.exists {
				if strings.HasSuffix(p, "/") {
					mustCopy(t, os.MkdirAll(filepath.Join(dir, p), 0o755))
				} else {
					mustCopy(t, os.WriteFile(filepath.Join(dir, p), []byte("user's"), 0o644))
				}
			}
			for run := range 2 {
				code, _, stderr := runCrewCopy(t, append([]string{"copy", "-q"}, tc.args(dir)...)...)
				if code != tc.code {
					t.Fatalf("run %d: exit %d, want %d: %s", run, code, tc.code, stderr)
				}
				if tc.code != 0 {
					for _, p := range tc.exists {
						if got, _ := os.ReadFile(filepath.Join(dir, p)); !strings.HasSuffix(p, "/") && string(got) != "user's" {
							t.Errorf("%s changed by a refused copy", p)
						}
					}
					return
				}
				if got, err := os.ReadFile(filepath.Join(dir, tc.want)); string(got) != "f" {
					t.Errorf("run %d: %s = %q, %v", run, tc.want, got, err)
				}
				if _, err := os.Lstat(filepath.Join(dir, tc.want, "src")); err == nil {
					t.Errorf("run %d nested a second copy", run)
				}
			}
		})
	}
}

// TestCopyOutputs checks -0 (raw names, NUL-ended), the quoting of names
// otherwise, --progress lines off a terminal, and the summary of a no-op
// rerun (no rate, nothing "copied").
func TestCopyOutputs(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	mustCopy(t, os.MkdirAll(src, 0o755))
	mustCopy(t, os.WriteFile(filepath.Join(src, "new\nline"), []byte("x"), 0o644))
	code, out, _ := runCrewCopy(t, "copy", "-n", "-0", src+"/", filepath.Join(dir, "a"))
	if code != 0 || out != "./\x00new\nline\x00" {
		t.Errorf("-0: exit %d, %q", code, out)
	}
	code, out, _ = runCrewCopy(t, "copy", "-n", src+"/", filepath.Join(dir, "a"))
	if code != 0 || out != "./\n'new'$'\\n''line'\n" {
		t.Errorf("quoted: exit %d, %q", code, out)
	}
	for i := range 300 {
		mustCopy(t, os.WriteFile(filepath.Join(src, fmt.Sprint(i)), []byte("y"), 0o644))
	}
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = time.Microsecond
	code, _, stderr := runCrewCopy(t, "copy", "--progress", src+"/", filepath.Join(dir, "b"))
	if code != 0 || !strings.Contains(stderr, "crew copy: ") || !strings.Contains(stderr, " entries, ") || strings.Contains(stderr, "\r") {
		t.Errorf("--progress off a terminal: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCrewCopy(t, "copy", src+"/", filepath.Join(dir, "b"))
	if code != 0 || !strings.HasPrefix(stderr, "copied nothing; 302 up to date") || strings.Contains(stderr, "/s") {
		t.Errorf("no-op rerun summary: exit %d, %q", code, stderr)
	}
	mustCopy(t, os.Chmod(filepath.Join(src, "0"), 0o600))
	code, out, stderr = runCrewCopy(t, "copy", "-v", src+"/", filepath.Join(dir, "b"))
	if code != 0 || out != "0\n" || !strings.Contains(stderr, "; 1 metadata-only update; ") {
		t.Errorf("chmod rerun: exit %d, out %q, summary %q", code, out, stderr)
	}
}

// TestCopyExitStatuses checks the statuses crew copy adds to the shared
// ones: 24 when source files vanished and nothing else went wrong, 25
// when --max-delete stopped deletions, 1 when a file failed too.
func TestCopyExitStatuses(t *testing.T) {
	vanished := treecopy.Stats{Vanished: []string{"src/gone"}}
	var out, errb bytes.Buffer
	s := Streams{Out: &out, Err: &errb}
	o := copyOptions{quiet: true}
	err := copyReport(s, o, vanished, fmt.Errorf("%w: 1", treecopy.ErrVanished), 0)
	if code := exitCode(t.Context(), err); code != exitVanished || !strings.Contains(errb.String(), "file vanished: src/gone") {
		t.Errorf("vanished: exit %d, %q", code, errb.String())
	}
	both := treecopy.Stats{Vanished: []string{"x"}, Errors: []error{errors.New("boom")}}
	if code := exitCode(t.Context(), copyReport(s, o, both, treecopy.ErrPartial, 0)); code != exitFailed {
		t.Errorf("vanished and failed: exit %d, want 1", code)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	mustCopy(t, os.MkdirAll(src, 0o755))
	mustCopy(t, os.MkdirAll(filepath.Join(dir, "dst", "x"), 0o755))
	mustCopy(t, os.WriteFile(filepath.Join(dir, "dst", "y"), nil, 0o644))
	code, _, stderr := runCrewCopy(t, "copy", "--delete", "--max-delete", "1", src+"/", filepath.Join(dir, "dst"))
	if code != exitMaxDelete || !strings.Contains(stderr, "not deleted") {
		t.Errorf("--max-delete: exit %d, %q", code, stderr)
	}
}

// TestProgressLine checks the progress line: no rate when nothing was
// copied (a rerun over an up-to-date copy looks at gigabytes a second),
// a percentage once the total is known.
func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		entries, data, max, copied int64
		rate                       float64
		want                       string
	}{
		{20000, 2_500_000_000, -1, 0, 0, "20000 entries, 2.5 GB looked at, 0 B copied"},
		{20000, 1_250_000_000, 2_500_000_000, 0, 0, "20000 entries, 1.2 GB of 2.5 GB (50%) looked at, 0 B copied"},
		{5, 4096, 8192, 4096, 1e6, "5 entries, 4.1 kB of 8.2 kB (50%) looked at, 4.1 kB copied (1.0 MB/s)"},
	} {
		if got := progressLine(tc.entries, tc.data, tc.max, tc.copied, tc.rate); got != tc.want {
			t.Errorf("progressLine = %q, want %q", got, tc.want)
		}
	}
}
