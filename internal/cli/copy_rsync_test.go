package cli

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var updateCopy = flag.Bool("update-copy", false, "rewrite crew copy's goldens from rsync (must be installed)")

// copyTree makes the files (a trailing "/" makes a directory) under root,
// each with content and mtime fixed, so that runs compare alike.
func copyTree(t *testing.T, root string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			mustCopy(t, os.MkdirAll(full, 0o755))
			continue
		}
		mustCopy(t, os.MkdirAll(filepath.Dir(full), 0o755))
		mustCopy(t, os.WriteFile(full, []byte(p), 0o644))
	}
	copyStamp(t, root, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
}

// copyStamp sets the mtime of everything under root.
func copyStamp(t *testing.T, root string, when time.Time) {
	t.Helper()
	mustCopy(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, when, when)
	}))
}

func mustCopy(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// copyListTree is every path under root, directories with a trailing "/".
func copyListTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	if _, err := os.Lstat(root); os.IsNotExist(err) {
		return nil
	}
	mustCopy(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	}))
	slices.Sort(out)
	return out
}

// copyGolden compares got, under key, with testdata/name: recorded from rsync
// with -update-copy, so the comparison with rsync holds where rsync is
// not installed.
func copyGolden(t *testing.T, name string, cases map[string][]string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	var b bytes.Buffer
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range cases {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		b.WriteString("== " + k + "\n")
		for _, line := range cases[k] {
			b.WriteString(line + "\n")
		}
	}
	if *updateCopy {
		mustCopy(t, os.WriteFile(path, b.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	mustCopy(t, err)
	if !bytes.Equal(want, b.Bytes()) {
		t.Errorf("differs from %s (rsync's answers):\n got:\n%s\nwant:\n%s", path, b.String(), want)
	}
}

// copyRsync returns rsync's path, or "" when it is not installed and not
// needed (goldens are compared instead).
func copyRsync(t *testing.T) string {
	p, err := exec.LookPath("rsync")
	if err != nil {
		if *updateCopy {
			t.Fatal("-update-copy needs rsync")
		}
		return ""
	}
	return p
}

// runCrewCopy runs crew with args in this process and returns its exit code,
// standard output and standard error.
func runCrewCopy(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(t.Context(), args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// rsyncItemized runs rsync -i with args and returns its lines, sorted,
// but for "created directory" (which crew lists as cd+++++++++).
func rsyncItemized(t *testing.T, rsync string, args ...string) []string {
	t.Helper()
	out, err := exec.Command(rsync, append([]string{"-i"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("rsync %q: %v\n%s", args, err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if !strings.HasPrefix(l, "created directory") {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

// TestCopyFiltersMatchRsync copies one tree with each set of filter rules
// by crew copy and by rsync -a and compares what arrives.
func TestCopyFiltersMatchRsync(t *testing.T) {
	rsync := copyRsync(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	copyTree(t, src, "a.txt", "b.tmp", "build/x.o", "build/keep.txt", "src/main.go", "src/build/y.o",
		"src/deep/z.tmp", "docs/readme.md", "docs/img/p.png", ".git/config", "top.log", "x/y/z/w.txt",
		"x/y/w.txt", "empty/", "sp ace/f[1].txt", "a*b", "c/d.go/e")
	exFile := filepath.Join(dir, "rules")
	mustCopy(t, os.WriteFile(exFile, []byte("# comment\n; also\n\n*.o\n+ keep.txt\n- build/*\n/docs/img/\n"), 0o644))
	sets := [][]string{
		{"--exclude", "*.tmp"},
		{"--exclude", "/build/"},
		{"--exclude", "build/"},
		{"--include", "*/", "--include", "*.go", "--exclude", "*"},
		{"--exclude", "src/**"},
		{"--exclude", "docs/***"},
		{"--exclude", "**/z*"},
		{"--exclude", ".git", "--exclude", "*.log"},
		{"--include", "build/keep.txt", "--exclude", "build/*"},
		{"--exclude", "[ab].*"},
		{"--exclude", "x/y"},
		{"--exclude", "?op.log"},
		{"--exclude", "*.md", "--exclude", "!", "--exclude", "*.png"},
		{"--exclude", "+ *.md", "--exclude", "*.md"},
		{"--exclude-from", exFile},
		{"--exclude", "/x/*/"},
		{"--exclude", "x/**/w.txt"},
		{"--exclude", "**.txt"},
		{"--exclude", "f\\[1\\].txt"},
		{"--exclude", "a\\*b"},
		{"--exclude", "*.go"},
		{"--exclude", "[[:digit:]]*", "--exclude", "[!a-c]*"},
		{"--exclude", "/src/*/"},
		{"--exclude", "src/deep/"},
		{"--exclude", "*/"},
	}
	got := map[string][]string{}
	for i, rules := range sets {
		key := strings.Join(rules, " ")
		key = strings.ReplaceAll(key, exFile, "RULES")
		// The trailing-slash form (the rules see paths below src) and the
		// named form (they see src/... and an anchored rule starts there).
		for _, form := range []string{"contents", "named"} {
			crewDst := filepath.Join(dir, "crew", form, string(rune('a'+i)))
			rsyncDst := filepath.Join(dir, "rsync", form, string(rune('a'+i)))
			mustCopy(t, os.MkdirAll(filepath.Dir(crewDst), 0o755))
			mustCopy(t, os.MkdirAll(filepath.Dir(rsyncDst), 0o755))
			srcArg, named := src+"/", ""
			if form == "named" {
				srcArg, named = src, "src/"
				rules = slices.Clone(rules)
				for k, r := range rules {
					if strings.HasPrefix(r, "/") && (rules[k-1] == "--exclude" || rules[k-1] == "--include") {
						rules[k] = "/src" + r // anchored at the named source's parent
					}
				}
			}
			code, _, stderr := runCrewCopy(t, append(append([]string{"copy", "-q"}, rules...), srcArg, crewDst+"/")...)
			if code != 0 {
				t.Fatalf("%s: crew copy exit %d: %s", key, code, stderr)
			}
			crewList := copyListTree(t, filepath.Join(crewDst, strings.TrimSuffix(named, "/")))
			got[form+": "+key] = crewList
			if rsync == "" {
				continue
			}
			out, err := exec.Command(rsync, append(append([]string{"-a"}, rules...), srcArg, rsyncDst+"/")...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: rsync: %v\n%s", key, err, out)
			}
			if want := copyListTree(t, filepath.Join(rsyncDst, strings.TrimSuffix(named, "/"))); !slices.Equal(crewList, want) {
				t.Errorf("%s (%s): crew copied\n%q\nrsync copied\n%q", key, form, crewList, want)
			}
		}
	}
	copyGolden(t, "copy-filters.golden", got)
}

// TestCopyItemizeMatchesRsync compares crew copy -i with rsync -aX -i on a
// first copy and on a rerun after content, mode, mtime, a symlink's time
// and a deletion changed the source (with --delete).
func TestCopyItemizeMatchesRsync(t *testing.T) {
	rsync := copyRsync(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	copyTree(t, src, "a", "c", "sub/b", "sub/deep/", "gone")
	mustCopy(t, os.Symlink("a", filepath.Join(src, "lnk")))
	copyStamp(t, src, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	setLinkTime := func(when time.Time) {
		mustCopy(t, exec.Command("touch", "-h", "-d", when.Format(time.RFC3339), filepath.Join(src, "lnk")).Run())
	}
	setLinkTime(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	got := map[string][]string{}
	run := func(step string, extra ...string) {
		code, out, stderr := runCrewCopy(t, append(append([]string{"copy", "-q", "-i"}, extra...), src+"/", filepath.Join(dir, "crew"))...)
		if code != 0 {
			t.Fatalf("%s: crew copy exit %d: %s", step, code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		slices.Sort(lines)
		got[step] = lines
		if rsync == "" {
			return
		}
		want := rsyncItemized(t, rsync, append(append([]string{"-aX"}, extra...), src+"/", filepath.Join(dir, "rsync")+"/")...)
		if !slices.Equal(lines, want) {
			t.Errorf("%s: crew copy -i printed\n%s\nrsync -i printed\n%s", step, strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	}
	run("first copy")
	mustCopy(t, os.WriteFile(filepath.Join(src, "sub", "b"), []byte("longer content"), 0o644))
	mustCopy(t, os.Chtimes(filepath.Join(src, "sub", "b"), time.Date(2021, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 2, 0, 0, 0, 0, time.UTC)))
	mustCopy(t, os.Chmod(filepath.Join(src, "a"), 0o600))
	mustCopy(t, os.Chtimes(filepath.Join(src, "c"), time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)))
	setLinkTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	mustCopy(t, os.Remove(filepath.Join(src, "gone")))
	mustCopy(t, os.Chtimes(src, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)))
	run("rerun after changes", "--delete")
	// A directory whose mode and mtime both changed: rsync lists both.
	mustCopy(t, os.Chmod(filepath.Join(src, "sub"), 0o700))
	mustCopy(t, os.Chtimes(filepath.Join(src, "sub"), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)))
	run("rerun after a directory's mode and mtime changed", "--delete")
	run("rerun unchanged", "--delete")
	copyGolden(t, "copy-itemize.golden", got)
}

// TestCopySeveralSourcesMatchRsync copies two directories' contents and a
// file into one missing DST, as rsync -a a/ b/ c DST/ does: the same
// entries arrive, and -i lists the same changes (DST itself as a new
// directory, not one whose mtime changed). Where both have a name, the
// first one's file wins over the second's, and a directory over a file
// whichever comes first, as in rsync (the first used to win always).
func TestCopySeveralSourcesMatchRsync(t *testing.T) {
	rsync := copyRsync(t)
	dir := t.TempDir()
	copyTree(t, filepath.Join(dir, "in"), "a/x/f", "a/only-a", "b/x/g", "b/only-b/h", "c.txt",
		"a/both", "b/both", "a/file-then-dir", "b/file-then-dir/in", "a/dir-then-file/in", "b/dir-then-file")
	in := filepath.Join(dir, "in")
	args := []string{filepath.Join(in, "a") + "/", filepath.Join(in, "b") + "/", filepath.Join(in, "c.txt")}
	code, out, stderr := runCrewCopy(t, append(append([]string{"copy", "-q", "-i"}, args...), filepath.Join(dir, "crew"))...)
	if code != 0 {
		t.Fatalf("crew copy exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	slices.Sort(lines)
	got := map[string][]string{"-i": lines, "tree": copyListTree(t, filepath.Join(dir, "crew"))}
	if rsync != "" {
		want := rsyncItemized(t, rsync, append(append([]string{"-a"}, args...), filepath.Join(dir, "rsync")+"/")...)
		if !slices.Equal(lines, want) {
			t.Errorf("crew copy -i printed\n%s\nrsync -i printed\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		if wantTree := copyListTree(t, filepath.Join(dir, "rsync")); !slices.Equal(got["tree"], wantTree) {
			t.Errorf("crew copied %q, rsync %q", got["tree"], wantTree)
		}
	}
	copyGolden(t, "copy-several.golden", got)
}
