//go:build linux

package treecopy_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crewrun/crew/treecopy"
)

// changes collects OnChange calls as "itemized path" lines, sorted.
type changes struct {
	mu    sync.Mutex
	lines []string
}

func (c *changes) add(ch treecopy.Change) {
	c.mu.Lock()
	c.lines = append(c.lines, ch.Itemized()+" "+ch.Path)
	c.mu.Unlock()
}

func (c *changes) sorted() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.lines)
	slices.Sort(out)
	c.lines = nil
	return out
}

// TestQuoteMatchesLs compares Quote with ls --quoting-style=shell-escape
// on names that need each kind of quoting (when ls is GNU ls), and with
// the answers ls gave when they were written.
func TestQuoteMatchesLs(t *testing.T) {
	cases := map[string]string{
		"plain": "plain", "with space": "'with space'", "it's": `"it's"`, "new\nline": `'new'$'\n''line'`,
		"tab\there": `'tab'$'\t''here'`, "\xff\xfebad": `''$'\377\376''bad'`, "a$b": `'a$b'`, "#hash": `'#hash'`,
		"a#b": "a#b", "~t": `'~t'`, "a~b": "a~b", "both'\nq": `'both'\'''$'\n''q'`, "ab\n": `'ab'$'\n'`,
		"'": `"'"`, "a'b$c": `'a'\''b$c'`, "\x7f": `''$'\177'`, "ünï": "ünï", "{c}": "{c}", "a b'c": `"a b'c"`,
		"-dash": "-dash", "x=y": `'x=y'`, "a?b": `'a?b'`, `a\b`: `'a\b'`, "\x01ctl": `''$'\001''ctl'`,
	}
	for name, want := range cases {
		if got := treecopy.Quote(name); got != want {
			t.Errorf("Quote(%q) = %s, want %s", name, got, want)
		}
	}
	if out, err := exec.Command("ls", "--quoting-style=shell-escape", "--version").Output(); err != nil || !bytes.Contains(out, []byte("GNU")) {
		t.Skip("no GNU ls to compare with live")
	}
	dir := t.TempDir()
	for name := range cases {
		must(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
	}
	cmd := exec.Command("ls", "-A", "-1", "--quoting-style=shell-escape", dir)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.Output()
	must(t, err)
	var want []string
	for name := range cases {
		want = append(want, treecopy.Quote(name))
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ls quotes\n%q\nQuote gives\n%q", got, want)
	}
}

// TestDeleteRemovesWhatSourceLacks covers Delete: extraneous files and
// directories go (listed by a dry run, which removes nothing), excluded
// ones stay, nothing outside the destination is touched, and MaxDelete
// stops deletions with ErrMaxDelete.
func TestDeleteRemovesWhatSourceLacks(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "dst")
	write(t, filepath.Join(src, "keep"), []byte("k"), 0o644)
	write(t, filepath.Join(src, "sub", "keep"), []byte("k"), 0o644)
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	write(t, filepath.Join(dst, "extra"), []byte("x"), 0o644)
	write(t, filepath.Join(dst, "olddir", "a", "b"), []byte("x"), 0o644)
	write(t, filepath.Join(dst, "sub", "extra.log"), []byte("x"), 0o644)
	write(t, filepath.Join(root, "outside"), []byte("o"), 0o644)
	var filter treecopy.Filter
	must(t, filter.Add("*.log", false))

	var ch changes
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Delete: true, DryRun: true, Filter: &filter, OnChange: ch.add})
	must(t, err)
	want := []string{"*deleting   extra", "*deleting   olddir", "*deleting   olddir/a", "*deleting   olddir/a/b"}
	got := slices.DeleteFunc(ch.sorted(), func(l string) bool { return strings.HasPrefix(l, ".d..t") }) // mtimes the test changed
	if !slices.Equal(got, want) {
		t.Errorf("dry run lists %q, want %q", got, want)
	}
	if _, err := os.Lstat(filepath.Join(dst, "olddir", "a", "b")); err != nil {
		t.Fatal("the dry run deleted:", err)
	}

	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{Delete: true, MaxDelete: 2, Filter: &filter})
	if !errors.Is(err, treecopy.ErrMaxDelete) || st.Deleted != 2 || st.NotDeleted == 0 {
		t.Errorf("MaxDelete 2: %+v, %v; want 2 deleted, the rest left, ErrMaxDelete", st, err)
	}
	st, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Delete: true, Filter: &filter})
	must(t, err)
	for _, p := range []string{"extra", "olddir"} {
		if _, err := os.Lstat(filepath.Join(dst, p)); !os.IsNotExist(err) {
			t.Errorf("%s not deleted: %v", p, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "sub", "extra.log")); err != nil {
		t.Errorf("an excluded file was deleted: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "outside")); err != nil {
		t.Errorf("a file outside the destination was deleted: %v", err)
	}
	st, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Delete: true, MaxDelete: -1, Filter: &filter})
	if err != nil || st.Deleted != 0 {
		t.Errorf("nothing left to delete: %+v, %v", st, err)
	}
}

// TestDryRunListsMetadataChangesAndDirectories checks that a dry run lists
// what the real run then does: new directories, a chmod-only change, an
// xattr-only change and a directory's changed mode — and the real run
// reports the same.
func TestDryRunListsMetadataChangesAndDirectories(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "mode"), []byte("m"), 0o644)
	write(t, filepath.Join(src, "xattr"), []byte("x"), 0o644)
	write(t, filepath.Join(src, "d", "f"), []byte("f"), 0o644)
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	must(t, os.Chmod(filepath.Join(src, "mode"), 0o600))
	if err := unix.Setxattr(filepath.Join(src, "xattr"), "user.new", []byte("v"), 0); err != nil {
		t.Skip("no user xattrs:", err)
	}
	must(t, os.Chmod(filepath.Join(src, "d"), 0o700))
	write(t, filepath.Join(src, "newdir", "g"), []byte("g"), 0o644)
	fi, err := os.Stat(filepath.Join(dst, "d"))
	must(t, err)
	must(t, os.Chtimes(filepath.Join(src, "newdir"), fi.ModTime(), fi.ModTime()))
	must(t, os.Chtimes(src, fi.ModTime(), fi.ModTime()))
	must(t, os.Chtimes(dst, fi.ModTime(), fi.ModTime()))
	var dry, real changes
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{DryRun: true, OnChange: dry.add})
	must(t, err)
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{OnChange: real.add})
	must(t, err)
	want := []string{".d...p..... d", ".f...p..... mode", ".f........x xattr", ">f+++++++++ newdir/g", "cd+++++++++ newdir"}
	slices.Sort(want)
	if got := dry.sorted(); !slices.Equal(got, want) {
		t.Errorf("dry run lists\n%q\nwant\n%q", got, want)
	}
	if got := real.sorted(); !slices.Equal(got, want) {
		t.Errorf("the run reports\n%q\nwant\n%q", got, want)
	}
	if st.Meta != 3 || st.Files != 1 || st.Dirs != 1 {
		t.Errorf("stats %+v: want 3 metadata-only updates, 1 file, 1 directory", st)
	}
	compareTrees(t, src, dst)
}

// TestVerifyChecksWholeTree corrupts a file of an up-to-date copy keeping
// its size and mtime: Verify reports it (it used to check only the files
// copied by the run, and exit 0).
func TestVerifyChecksWholeTree(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "sub", "f"), []byte("good"), 0o644)
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	victim := filepath.Join(dst, "sub", "f")
	fi, err := os.Stat(victim)
	must(t, err)
	must(t, os.WriteFile(victim, []byte("evil"), 0o644))
	must(t, os.Chtimes(victim, fi.ModTime(), fi.ModTime()))
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{Verify: true})
	if !errors.Is(err, treecopy.ErrPartial) || len(st.Errors) != 1 || !errors.Is(st.Errors[0], treecopy.ErrVerify) ||
		!strings.Contains(st.Errors[0].Error(), victim) {
		t.Errorf("Verify over a corrupted copy: %v, errors %v; want the file reported", err, st.Errors)
	}
}

// TestOneFileSystem copies a tree with a tmpfs mounted inside: the mount
// point is copied as an empty directory, its content not (needs root).
func TestOneFileSystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "here"), []byte("h"), 0o644)
	mnt := filepath.Join(src, "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skip("cannot mount:", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	write(t, filepath.Join(mnt, "elsewhere"), []byte("e"), 0o644)
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{OneFileSystem: true})
	must(t, err)
	if ents, err := os.ReadDir(filepath.Join(dst, "mnt")); err != nil || len(ents) != 0 {
		t.Errorf("mount point in the copy: %v, %v; want an empty directory", ents, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "here")); string(got) != "h" {
		t.Errorf("here = %q", got)
	}
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	if got, _ := os.ReadFile(filepath.Join(dst, "mnt", "elsewhere")); string(got) != "e" {
		t.Errorf("without OneFileSystem the mount's content is not copied: %q", got)
	}
}

// TestFsyncSyncsFilesAndDirectories checks that Fsync syncs each file
// copied and each directory made, and only then.
func TestFsyncSyncsFilesAndDirectories(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for _, p := range []string{"a", "b", "d/c", "d/e/f"} {
		write(t, filepath.Join(src, p), []byte(p), 0o644)
	}
	before := treecopy.Fsyncs()
	_, err := treecopy.Copy(t.Context(), src, filepath.Join(t.TempDir(), "plain"), treecopy.Options{})
	must(t, err)
	if n := treecopy.Fsyncs() - before; n != 0 {
		t.Errorf("%d fsyncs without Fsync", n)
	}
	dst := filepath.Join(t.TempDir(), "synced")
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Fsync: true})
	must(t, err)
	// 4 files, and each of the 3 directories once for its entries and once
	// for its metadata.
	if n := treecopy.Fsyncs() - before; n < 4+3 {
		t.Errorf("%d fsyncs with Fsync, want at least 7", n)
	}
	compareTrees(t, src, dst)
}

// TestCopyTreesMerges copies two trees into one destination and a named
// tree beside them: a name both have comes from the first, hardlinks
// across trees stay one file, and Delete keeps what either has.
func TestCopyTreesMerges(t *testing.T) {
	root := t.TempDir()
	a, b, dst := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "dst")
	write(t, filepath.Join(a, "same"), []byte("from a"), 0o644)
	write(t, filepath.Join(a, "dir", "x"), []byte("ax"), 0o644)
	write(t, filepath.Join(b, "same"), []byte("from b"), 0o644)
	write(t, filepath.Join(b, "dir", "y"), []byte("by"), 0o644)
	must(t, os.Link(filepath.Join(a, "dir", "x"), filepath.Join(b, "linked")))
	write(t, filepath.Join(dst, "stale"), []byte("s"), 0o644)
	trees := []treecopy.Tree{{Src: a + "/", Dst: dst}, {Src: b + "/", Dst: dst}, {Src: a, Dst: filepath.Join(dst, "a"), Rel: "a/"}}
	for range 2 {
		_, err := treecopy.CopyTrees(t.Context(), trees, treecopy.Options{Delete: true})
		must(t, err)
	}
	for p, want := range map[string]string{"same": "from a", "dir/x": "ax", "dir/y": "by", "linked": "ax", "a/same": "from a"} {
		if got, err := os.ReadFile(filepath.Join(dst, p)); string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	x, _ := os.Stat(filepath.Join(dst, "dir", "x"))
	l, _ := os.Stat(filepath.Join(dst, "linked"))
	if !os.SameFile(x, l) {
		t.Error("a hardlink across trees became two files")
	}
	if _, err := os.Lstat(filepath.Join(dst, "stale")); !os.IsNotExist(err) {
		t.Errorf("stale not deleted: %v", err)
	}
}

// TestProgressCounts checks the Progress counters after a copy and after a
// no-op rerun (entries looked at, data seen, bytes copied).
func TestProgressCounts(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "a"), bytes.Repeat([]byte("x"), 8192), 0o644)
	write(t, filepath.Join(src, "d", "b"), bytes.Repeat([]byte("y"), 100), 0o644)
	// Sparse: 1 MiB long, one block of data.
	f, err := os.Create(filepath.Join(src, "sparse"))
	must(t, err)
	_, err = f.WriteAt([]byte("z"), 512<<10)
	must(t, err)
	must(t, f.Truncate(1<<20))
	must(t, f.Close())
	var p treecopy.Progress
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Progress: &p})
	must(t, err)
	if p.Entries.Load() != 5 || p.Copied.Load() < 8192+100 || p.Data.Load() > 1<<19 {
		t.Errorf("first copy: %d entries, %d data, %d copied; want 5 entries, the sparse file's holes not counted",
			p.Entries.Load(), p.Data.Load(), p.Copied.Load())
	}
	var again treecopy.Progress
	start := time.Now()
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Progress: &again})
	must(t, err)
	if again.Copied.Load() != 0 || again.Entries.Load() != 5 {
		t.Errorf("rerun (%v): %d copied, %d entries", time.Since(start), again.Copied.Load(), again.Entries.Load())
	}
}

// TestDryRunCountsWhatItWouldCopy checks that a dry run's Stats count the
// files, bytes, symlinks and special files the real run then copies (they
// used to be zero: "would copy 1 directory" for a tree of files).
func TestDryRunCountsWhatItWouldCopy(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "a"), []byte("12345"), 0o644)
	write(t, filepath.Join(src, "sub", "b"), []byte("678"), 0o644)
	must(t, os.Symlink("a", filepath.Join(src, "l")))
	must(t, unix.Mkfifo(filepath.Join(src, "p"), 0o644))
	dry, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{DryRun: true})
	must(t, err)
	real, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	dry.Errors, real.Errors = nil, nil
	if dry.Files != 2 || dry.Bytes != 8 || dry.Symlinks != 1 || dry.Special != 1 || dry.Dirs != 2 {
		t.Errorf("dry run stats %+v, want 2 files (8 bytes), 1 symlink, 1 special file, 2 directories", dry)
	}
	if fmt.Sprint(dry) != fmt.Sprint(real) {
		t.Errorf("dry run stats %+v, the run's %+v", dry, real)
	}
}

// TestFsyncReachesEveryNewName checks that Fsync syncs the directories
// holding every name the copy made: the one holding a new DST (DST's own
// entry), the one a single file is copied into, and one where only a
// hardlink was added, after it was (those were left to write-back: a
// power cut after a finished copy could lose DST itself or the link).
func TestFsyncReachesEveryNewName(t *testing.T) {
	root := t.TempDir()
	src, parent := filepath.Join(root, "src"), filepath.Join(root, "parent")
	dst := filepath.Join(parent, "dst")
	write(t, filepath.Join(src, "a"), []byte("a"), 0o644)
	write(t, filepath.Join(src, "e", "x"), []byte("x"), 0o644)
	write(t, filepath.Join(root, "single"), []byte("s"), 0o644)
	must(t, os.Mkdir(parent, 0o755))
	var mu sync.Mutex
	synced := map[string]bool{} // each directory synced, once its last new name is in place
	linked := filepath.Join(dst, "e", "b")
	defer treecopy.OnFsync(func(p string) {
		p = filepath.Clean(p)
		_, err := os.Lstat(linked)
		mu.Lock()
		synced[p] = p != filepath.Dir(linked) || err == nil || synced[p]
		mu.Unlock()
	})()
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{Fsync: true})
	must(t, err)
	_, err = treecopy.Copy(t.Context(), filepath.Join(root, "single"), filepath.Join(parent, "single"), treecopy.Options{Fsync: true})
	must(t, err)
	if !synced[parent] {
		t.Errorf("the directory holding the new DST and the single file was not synced: %v", synced)
	}
	// A new name of a (met first: the top's entries go before the
	// subdirectories') in a directory whose own metadata is unchanged.
	fi, err := os.Stat(filepath.Join(src, "e"))
	must(t, err)
	must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "e", "b")))
	must(t, os.Chtimes(filepath.Join(src, "e"), fi.ModTime(), fi.ModTime()))
	clear(synced)
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{Fsync: true, Workers: 1})
	must(t, err)
	if st.Links != 1 || st.Files != 0 || !synced[filepath.Join(dst, "e")] {
		t.Errorf("%+v; the directory of the new link was not synced after it was made: %v", st, synced)
	}
	compareTrees(t, src, dst)
}
