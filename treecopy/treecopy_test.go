//go:build linux

package treecopy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/crewrun/crew/treecopy"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv("TREECOPY_CHILD"); mode != "" {
		// Subprocess for the tests of killed and concurrent copies.
		if mode == "hold" {
			var once sync.Once
			treecopy.BeforeEntry(func(string) {
				once.Do(func() {
					fmt.Println("started")
					io.Copy(io.Discard, os.Stdin) // until the test closes it
				})
			})
		}
		st, err := treecopy.Copy(context.Background(), os.Args[len(os.Args)-2], os.Args[len(os.Args)-1], treecopy.Options{Workers: 2})
		for _, e := range st.Errors {
			fmt.Fprintln(os.Stderr, e)
		}
		fmt.Fprintln(os.Stderr, err)
		switch {
		case errors.Is(err, treecopy.ErrPartial):
			os.Exit(1)
		case errors.Is(err, treecopy.ErrBusy):
			os.Exit(3)
		case err != nil:
			os.Exit(2)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func write(t *testing.T, p string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// buildTree makes a source tree with every kind of entry cp -a preserves.
func buildTree(t *testing.T, src string) {
	t.Helper()
	names := []string{"with space", "new\nline", "ünïcødé✓", "-leading-dash", strings.Repeat("x", 255)}
	for i, n := range names {
		write(t, filepath.Join(src, "odd", n), []byte(fmt.Sprint("content ", i)), 0o640)
	}
	deep := src
	for i := range 40 {
		deep = filepath.Join(deep, fmt.Sprint("d", i))
	}
	write(t, filepath.Join(deep, "bottom"), []byte("deep"), 0o600)
	write(t, filepath.Join(src, "exec.sh"), []byte("#!/bin/sh\n"), 0o4755)
	must(t, os.MkdirAll(filepath.Join(src, "empty"), 0o755))
	must(t, os.Symlink("exec.sh", filepath.Join(src, "rel-link")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(src, "abs-link")))
	must(t, os.Symlink("does/not/exist", filepath.Join(src, "dangling")))
	must(t, os.Link(filepath.Join(src, "exec.sh"), filepath.Join(src, "odd", "hard")))
	must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o620))
	// Sparse: 64 MiB with one data block in the middle.
	f, err := os.Create(filepath.Join(src, "sparse"))
	must(t, err)
	_, err = f.WriteAt([]byte("data in the middle"), 32<<20)
	must(t, err)
	must(t, f.Truncate(64<<20))
	must(t, f.Close())
	must(t, unix.Lsetxattr(filepath.Join(src, "exec.sh"), "user.crew", []byte("xattr value"), 0))
	must(t, os.Chown(filepath.Join(src, "odd", "with space"), 1234, 5678))
	// A read-only dir with content: its files must still arrive.
	write(t, filepath.Join(src, "ro", "inside"), []byte("ro"), 0o644)
	must(t, os.Chmod(filepath.Join(src, "ro"), 0o555))
	// Nanosecond mtimes, set last on everything (dirs included).
	ns := time.Unix(1_600_000_000, 123_456_789)
	must(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		must(t, err)
		ns = ns.Add(time.Second + 7)
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{unix.NsecToTimespec(ns.UnixNano()), unix.NsecToTimespec(ns.UnixNano())}, unix.AT_SYMLINK_NOFOLLOW)
	}))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// compareTrees checks everything cp -a preserves, entry by entry.
func compareTrees(t *testing.T, src, dst string) {
	t.Helper()
	srcIno := map[uint64]string{}
	dstIno := map[uint64]string{}
	must(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		must(t, err)
		rel, _ := filepath.Rel(src, p)
		q := filepath.Join(dst, rel)
		a, err := os.Lstat(p)
		must(t, err)
		b, err := os.Lstat(q)
		if err != nil {
			t.Errorf("%q missing in copy: %v", rel, err)
			return nil
		}
		sa, sb := a.Sys().(*syscall.Stat_t), b.Sys().(*syscall.Stat_t)
		if a.Mode() != b.Mode() {
			t.Errorf("%q mode %v, want %v", rel, b.Mode(), a.Mode())
		}
		if sa.Uid != sb.Uid || sa.Gid != sb.Gid {
			t.Errorf("%q owner %d:%d, want %d:%d", rel, sb.Uid, sb.Gid, sa.Uid, sa.Gid)
		}
		if !a.ModTime().Equal(b.ModTime()) {
			t.Errorf("%q mtime %v, want %v", rel, b.ModTime(), a.ModTime())
		}
		switch {
		case a.Mode().IsRegular():
			x, _ := os.ReadFile(p)
			y, _ := os.ReadFile(q)
			if !bytes.Equal(x, y) {
				t.Errorf("%q content differs", rel)
			}
			if sb.Blocks > sa.Blocks+8 {
				t.Errorf("%q uses %d blocks, source %d: not sparse", rel, sb.Blocks, sa.Blocks)
			}
			if sa.Nlink > 1 {
				if prev, ok := srcIno[sa.Ino]; ok {
					if dstIno[sb.Ino] != prev {
						t.Errorf("%q not hardlinked to %q", rel, prev)
					}
				} else {
					srcIno[sa.Ino], dstIno[sb.Ino] = rel, rel
				}
			}
			va := make([]byte, 64)
			n, errA := unix.Lgetxattr(p, "user.crew", va)
			vb := make([]byte, 64)
			m, errB := unix.Lgetxattr(q, "user.crew", vb)
			if (errA == nil) != (errB == nil) || (errA == nil && !bytes.Equal(va[:n], vb[:m])) {
				t.Errorf("%q xattr user.crew differs: %v %v", rel, errA, errB)
			}
		case a.Mode()&fs.ModeSymlink != 0:
			x, _ := os.Readlink(p)
			y, _ := os.Readlink(q)
			if x != y {
				t.Errorf("%q link target %q, want %q", rel, y, x)
			}
		}
		return nil
	}))
	// Nothing extra, and no temp files left behind.
	must(t, filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		must(t, err)
		rel, _ := filepath.Rel(dst, p)
		if _, err := os.Lstat(filepath.Join(src, rel)); err != nil {
			t.Errorf("extra entry %q in copy", rel)
		}
		return nil
	}))
}

// TestCopyFidelity copies a tree with every kind of entry, then reruns
// the copy unchanged and after a change; both ways of writing new files
// are checked: unnamed (O_TMPFILE) and linked in, or under a temp name.
func TestCopyFidelity(t *testing.T) {
	t.Run("unnamed files", testCopyFidelity)
	t.Run("unnamed files linked by /proc name", func(t *testing.T) {
		defer treecopy.NoEmptyPath()()
		testCopyFidelity(t)
	})
	t.Run("temp names", func(t *testing.T) {
		defer treecopy.NoTmpfile()()
		testCopyFidelity(t)
	})
}

func testCopyFidelity(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	buildTree(t, src)
	var noted atomic.Int64
	stats, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{Verify: true, OnChange: func(c treecopy.Change) {
		if c.Type != treecopy.Dir {
			noted.Add(1)
		}
	}})
	must(t, err)
	compareTrees(t, src, dst)
	if stats.Links != 1 || stats.Symlinks != 3 || stats.Special != 1 {
		t.Errorf("stats = %+v", stats)
	}
	if want := stats.Files + stats.Symlinks + stats.Special + stats.Links; noted.Load() != want {
		t.Errorf("OnChange called %d times for non-directories, want %d (every entry copied)", noted.Load(), want)
	}

	// Rerun on an unchanged tree copies nothing.
	again, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	if want := stats.Files + stats.Symlinks + stats.Links + stats.Special; again.Files != 0 || again.Bytes != 0 ||
		again.Symlinks != 0 || again.Links != 0 || again.Special != 0 || again.Skipped != want {
		t.Errorf("rerun stats = %+v, want all %d files, symlinks, links and special files skipped", again, want)
	}
	compareTrees(t, src, dst)

	// A changed file (same size, new mtime) is recopied.
	changed := filepath.Join(src, "odd", "with space")
	must(t, os.WriteFile(changed, []byte("CONTENT 0"), 0o640))
	third, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	if third.Files != 1 {
		t.Errorf("after one change copied %d files, want 1", third.Files)
	}
	compareTrees(t, src, dst)
}

func TestChecksumCatchesSameSizeAndMtime(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "f"), []byte("aaaa"), 0o644)
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	fi, _ := os.Stat(filepath.Join(dst, "f"))
	must(t, os.WriteFile(filepath.Join(dst, "f"), []byte("bbbb"), 0o644))
	must(t, os.Chtimes(filepath.Join(dst, "f"), fi.ModTime(), fi.ModTime()))
	s, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	if s.Files != 0 {
		t.Fatalf("size+mtime mode recopied %d files", s.Files)
	}
	var listed []string
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Checksum: true, DryRun: true,
		OnChange: func(c treecopy.Change) { listed = append(listed, c.Path) }})
	must(t, err)
	if got, _ := os.ReadFile(filepath.Join(dst, "f")); string(got) != "bbbb" || len(listed) != 1 || listed[0] != "f" {
		t.Fatalf("dry run listed %q and left %q", listed, got)
	}
	s, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Checksum: true})
	must(t, err)
	if got, _ := os.ReadFile(filepath.Join(dst, "f")); string(got) != "aaaa" || s.Files != 1 {
		t.Fatalf("checksum mode: copied %d, content %q", s.Files, got)
	}
}

// TestRefusals checks that a copy onto its own source, or into it, is
// refused however the paths are spelled: through symlinks, through ".."
// after a symlink (which the kernel resolves from where the link leads,
// not by removing text), or through a bind mount of the source.
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	write(t, filepath.Join(src, "f"), []byte("x"), 0o644)
	must(t, os.Mkdir(filepath.Join(src, "deep"), 0o755))
	must(t, os.Symlink(src, filepath.Join(dir, "alias")))
	must(t, os.Mkdir(filepath.Join(dir, "o"), 0o755))
	must(t, os.Symlink("../src/deep", filepath.Join(dir, "o", "lnk")))
	must(t, os.Symlink("src/deep", filepath.Join(dir, "into")))
	must(t, os.Symlink("nowhere", filepath.Join(dir, "dangling")))
	cases := []struct{ name, src, dst string }{
		{"directory onto a dangling symlink", src, filepath.Join(dir, "dangling")},
		{"missing source", filepath.Join(dir, "nope"), filepath.Join(dir, "out")},
		{"same", src, src},
		{"same via symlink", src, filepath.Join(dir, "alias")},
		{"same via symlink and dot-dot", filepath.Join(dir, "o", "lnk") + "/..", src},
		{"same file", filepath.Join(src, "f"), filepath.Join(dir, "o", "lnk") + "/../f"},
		{"file onto its own directory", filepath.Join(src, "f"), filepath.Join(dir, "o", "lnk") + "/.."},
		{"inside", src, filepath.Join(src, "sub", "copy")},
		{"inside via dot", src, src + "/./x"},
		{"inside via symlink and dot-dot", src, filepath.Join(dir, "o", "lnk") + "/../dst"},
		{"inside via symlink to a subdirectory", src, filepath.Join(dir, "into")},
		{"root", "/", filepath.Join(dir, "out")},
	}
	if os.Geteuid() == 0 {
		bind := filepath.Join(dir, "bind")
		must(t, os.Mkdir(bind, 0o755))
		if err := unix.Mount(src, bind, "", unix.MS_BIND, ""); err == nil {
			t.Cleanup(func() { unix.Unmount(bind, unix.MNT_DETACH) })
			cases = append(cases,
				struct{ name, src, dst string }{"same via bind mount", src, bind},
				struct{ name, src, dst string }{"inside via bind mount", src, filepath.Join(bind, "deep", "x")})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := treecopy.Copy(t.Context(), tc.src, tc.dst, treecopy.Options{})
			if !errors.Is(err, treecopy.ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
		})
	}
	ents, _ := os.ReadDir(src)
	deep, _ := os.ReadDir(filepath.Join(src, "deep"))
	if len(ents) != 2 || len(deep) != 0 {
		t.Fatalf("refusal changed the source: %v, deep/%v", ents, deep)
	}
}

// TestUnreadableFileReported copies a tree holding a mode-000 file and a
// mode-000 directory: both are reported with their paths, the rest is
// copied. Root reads anything, so when root the copy runs in a subprocess
// as nobody.
func TestUnreadableFileReported(t *testing.T) {
	base := t.TempDir()
	must(t, os.Chmod(base, 0o777))
	must(t, os.Chmod(filepath.Dir(base), 0o755))
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	write(t, filepath.Join(src, "ok"), []byte("ok"), 0o644)
	write(t, filepath.Join(src, "secret"), []byte("no"), 0o000)
	write(t, filepath.Join(src, "locked", "inner"), []byte("no"), 0o644)
	must(t, os.Chmod(filepath.Join(src, "locked"), 0o000))
	t.Cleanup(func() { // so that TempDir can be removed
		os.Chmod(filepath.Join(src, "locked"), 0o755)
		os.Chmod(filepath.Join(dst, "locked"), 0o755)
	})
	// The test binary's own dir is private to root; run a copy of it.
	bin, err := os.ReadFile(os.Args[0])
	must(t, err)
	exe := filepath.Join(base, "treecopy.test")
	must(t, os.WriteFile(exe, bin, 0o755))
	cmd := exec.Command(exe, "-test.run=^$", src, dst)
	cmd.Env = append(os.Environ(), "TREECOPY_CHILD=report")
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), filepath.Join(src, "secret")) {
		t.Errorf("error does not name the unreadable file:\n%s", out)
	}
	if !strings.Contains(string(out), filepath.Join(src, "locked")) {
		t.Errorf("error does not name the unreadable directory:\n%s", out)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "ok")); string(got) != "ok" {
		t.Errorf("readable file not copied: %q", got)
	}
	if _, err := os.Lstat(filepath.Join(dst, "secret")); err == nil {
		t.Errorf("unreadable file exists in the copy")
	}
}

func TestKill9ThenRerun(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for i := range 200 {
		write(t, filepath.Join(src, fmt.Sprintf("d%d", i%10), fmt.Sprintf("f%03d", i)), big[:len(big)-i], 0o644)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", src, dst)
	cmd.Env = append(os.Environ(), "TREECOPY_CHILD=1")
	must(t, cmd.Start())
	// Wait until the child has started writing, then kill it mid-copy.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ents, _ := os.ReadDir(filepath.Join(dst, "d0"))
		if len(ents) > 0 || time.Now().After(deadline) {
			break
		}
		runtime.Gosched()
	}
	must(t, cmd.Process.Kill())
	_ = cmd.Wait()
	// No partial content under a final name.
	must(t, filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), treecopy.TempPrefix) {
			return nil
		}
		rel, _ := filepath.Rel(dst, p)
		want, _ := os.ReadFile(filepath.Join(src, rel))
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, want) {
			t.Errorf("%s has partial content (%d of %d bytes)", rel, len(got), len(want))
		}
		return nil
	}))
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	compareTrees(t, src, dst)
}

// A rerun removes the temp files a killed run left and makes an existing
// read-only destination directory writable long enough to fill it. A file
// standing where the source has a directory is kept and reported, and
// replaced only with Delete.
func TestRerunCleansLeftovers(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	for i := range 300 { // more names than one directory read returns
		write(t, filepath.Join(src, "a", fmt.Sprintf("file-with-a-long-name-%03d", i)), []byte("x"), 0o644)
	}
	write(t, filepath.Join(src, "b", "inner"), []byte("y"), 0o644)
	must(t, os.MkdirAll(filepath.Join(dst, "a"), 0o755))
	leftovers := []string{treecopy.TempPrefix + "4242-1", treecopy.TempPrefix + "17-150"}
	for _, name := range leftovers {
		write(t, filepath.Join(dst, "a", name), []byte("partial"), 0o600)
	}
	// Not a leftover: the name is not TempPrefix + pid-sequence.
	write(t, filepath.Join(dst, "a", treecopy.TempPrefix+"notes"), []byte("z"), 0o644)
	must(t, os.Chmod(filepath.Join(dst, "a"), 0o555))
	write(t, filepath.Join(dst, "b"), []byte("a file where a directory belongs"), 0o644)

	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	if !errors.Is(err, treecopy.ErrPartial) || len(st.Errors) != 1 || !strings.Contains(st.Errors[0].Error(), filepath.Join(dst, "b")) {
		t.Fatalf("err = %v, errors %v; want one naming %s", err, st.Errors, filepath.Join(dst, "b"))
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "b")); string(got) != "a file where a directory belongs" {
		t.Errorf("the file where the source has a directory was not kept: %q", got)
	}
	for _, name := range leftovers {
		if _, err := os.Lstat(filepath.Join(dst, "a", name)); !os.IsNotExist(err) {
			t.Errorf("leftover %s still there (%v)", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "a", treecopy.TempPrefix+"notes")); err != nil {
		t.Errorf("a file that is not a leftover was removed: %v", err)
	}
	must(t, os.Remove(filepath.Join(dst, "a", treecopy.TempPrefix+"notes")))
	st, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Delete: true})
	must(t, err)
	if st.Deleted != 1 {
		t.Errorf("Delete removed %d entries, want 1 (the file b)", st.Deleted)
	}
	compareTrees(t, src, dst)
}

// TestOnChangePaths checks the paths OnChange gets for non-directories: relative to the source,
// slash-separated, however the source was spelled.
func TestOnChangePaths(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "src", "top"), []byte("1"), 0o644)
	write(t, filepath.Join(root, "src", "a", "b", "deep"), []byte("2"), 0o644)
	must(t, os.Symlink("top", filepath.Join(root, "src", "a", "link")))
	must(t, os.Link(filepath.Join(root, "src", "top"), filepath.Join(root, "src", "a", "hard")))
	t.Chdir(root)
	for i, spelling := range []string{"src", "src/", "./src/.", filepath.Join(root, "src") + "//"} {
		var mu sync.Mutex
		var got []string
		_, err := treecopy.Copy(t.Context(), spelling, fmt.Sprint("dst", i), treecopy.Options{OnChange: func(c treecopy.Change) {
			if c.Type == treecopy.Dir {
				return
			}
			mu.Lock()
			got = append(got, c.Path)
			mu.Unlock()
		}})
		must(t, err)
		slices.Sort(got)
		want := []string{"a/b/deep", "a/hard", "a/link", "top"}
		if !slices.Equal(got, want) {
			t.Errorf("source %q: OnChange got %q, want %q", spelling, got, want)
		}
	}
}

// TestSourceSpelling checks that the source is taken as spelled: "link/"
// copies the directory a symlink points to (as cp -a does), and an empty
// source is missing, not the working directory.
func TestSourceSpelling(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "real", "f"), []byte("x"), 0o644)
	must(t, os.Symlink("real", filepath.Join(root, "link")))
	dst := filepath.Join(t.TempDir(), "viaLink")
	_, err := treecopy.Copy(t.Context(), filepath.Join(root, "link")+"/", dst, treecopy.Options{})
	must(t, err)
	if fi, err := os.Lstat(dst); err != nil || !fi.IsDir() {
		t.Fatalf("link/ copied as %v (%v), want the directory", fi.Mode(), err)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "f")); string(got) != "x" {
		t.Errorf("link/f not copied: %q, %v", got, err)
	}

	t.Chdir(root)
	st, err := treecopy.Copy(t.Context(), "", filepath.Join(t.TempDir(), "empty"), treecopy.Options{})
	if !errors.Is(err, treecopy.ErrRefused) {
		t.Errorf("empty source: %v after copying %d files, want ErrRefused", err, st.Files)
	}
}

// TestCancelReported checks that a copy cancelled while its workers run —
// here after the walk has queued everything — returns the context's error,
// not success.
func TestCancelReported(t *testing.T) {
	src := t.TempDir()
	for i := range 100 {
		write(t, filepath.Join(src, fmt.Sprint("f", i)), []byte("x"), 0o644)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st, err := treecopy.Copy(ctx, src, filepath.Join(t.TempDir(), "dst"), treecopy.Options{Workers: 1, OnChange: func(c treecopy.Change) {
		if c.Type == treecopy.File {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled copy of %d of 100 files returned %v, want context.Canceled", st.Files, err)
	}
}

// TestManyXattrs checks a file whose attribute list is longer than the
// first probe for one.
func TestManyXattrs(t *testing.T) {
	src := t.TempDir()
	f := filepath.Join(src, "f")
	write(t, f, []byte("x"), 0o644)
	for i := range 25 { // over 1 KiB of names
		if err := unix.Setxattr(f, fmt.Sprintf("user.%s%02d", strings.Repeat("n", 50), i), []byte{byte(i)}, 0); err != nil {
			t.Skip("no user xattrs on this file system:", err)
		}
	}
	dst := filepath.Join(t.TempDir(), "dst")
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	want, _ := unix.Listxattr(f, nil)
	got, err := unix.Listxattr(filepath.Join(dst, "f"), nil)
	if err != nil || got != want {
		t.Errorf("copy has %d bytes of xattr names (%v), want %d", got, err, want)
	}
}

// TestFileOntoDirectoryGoesInside copies a single file, and a symlink, onto
// an existing directory: like cp -a, the copy goes inside it as
// DST/base(SRC), and nothing already in the directory is touched.
func TestFileOntoDirectoryGoesInside(t *testing.T) {
	dir := t.TempDir()
	file, link, backup := filepath.Join(dir, "f.txt"), filepath.Join(dir, "lnk"), filepath.Join(dir, "backup")
	write(t, file, []byte("hello"), 0o644)
	must(t, os.Symlink("f.txt", link))
	write(t, filepath.Join(backup, "keep", "data"), []byte("precious"), 0o644)
	for _, src := range []string{file, link} {
		if _, err := treecopy.Copy(t.Context(), src, backup, treecopy.Options{}); err != nil {
			t.Fatalf("copy %s onto a directory: %v", src, err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(backup, "keep", "data")); string(got) != "precious" {
		t.Errorf("backup/keep/data = %q, %v: the directory's content was lost", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(backup, "f.txt")); string(got) != "hello" {
		t.Errorf("backup/f.txt = %q, %v; want the file copied inside", got, err)
	}
	if got, err := os.Readlink(filepath.Join(backup, "lnk")); got != "f.txt" {
		t.Errorf("backup/lnk -> %q, %v; want the symlink copied inside", got, err)
	}
	// The same file again, onto the directory holding its copy: up to date.
	st, err := treecopy.Copy(t.Context(), file, backup, treecopy.Options{})
	if err != nil || st.Skipped != 1 || st.Files != 0 {
		t.Errorf("rerun: %+v, %v; want the file skipped", st, err)
	}
}

// TestTypeChangeKeepsNonEmptyDirectory reruns a copy after a directory in
// the source became a file: an empty directory in the copy is replaced by
// the file, but one holding files the source does not have is kept and
// reported with its path, as cp -a and rsync do, not deleted.
func TestTypeChangeKeepsNonEmptyDirectory(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "empty", "f"), []byte("x"), 0o644)
	write(t, filepath.Join(src, "full", "f"), []byte("x"), 0o644)
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	must(t, os.Remove(filepath.Join(dst, "empty", "f")))
	write(t, filepath.Join(dst, "full", "only-in-copy"), []byte("keep me"), 0o644)
	for _, name := range []string{"empty", "full"} {
		must(t, os.RemoveAll(filepath.Join(src, name)))
		write(t, filepath.Join(src, name), []byte("now a file"), 0o644)
	}
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	if !errors.Is(err, treecopy.ErrPartial) || len(st.Errors) != 1 || !strings.Contains(st.Errors[0].Error(), filepath.Join(dst, "full")) {
		t.Fatalf("err = %v, errors %v; want one naming %s", err, st.Errors, filepath.Join(dst, "full"))
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "empty")); string(got) != "now a file" {
		t.Errorf("the empty directory was not replaced by the file: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "full", "only-in-copy")); string(got) != "keep me" {
		t.Errorf("a file only in the copy was deleted: %q", got)
	}
	if ents, _ := os.ReadDir(dst); len(ents) != 2 {
		t.Errorf("temp files left behind: %v", ents)
	}
}

// TestFullDestinationReported copies onto a small tmpfs from another file
// system, where the kernel refuses copy_file_range and the copy falls back
// to pread/pwrite: a file that does not fit is reported (ENOSPC, with its
// path), not left truncated under its name. Mounting needs root.
func TestFullDestinationReported(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	src, mnt := filepath.Join(t.TempDir(), "src"), t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64k"); err != nil {
		t.Skip("cannot mount a tmpfs:", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	data := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // 100 KiB
	write(t, filepath.Join(src, "big"), data, 0o644)
	write(t, filepath.Join(src, "small"), data[:50<<10], 0o644)
	for i := range 100 { // many more that cannot fit either: one error, not 100
		write(t, filepath.Join(src, "many", fmt.Sprint(i)), data[:8<<10], 0o644)
	}
	dst := filepath.Join(mnt, "dst")
	for _, workers := range []int{1, 2} {
		st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{Workers: workers})
		if !errors.Is(err, treecopy.ErrNoSpace) || !errors.Is(err, unix.ENOSPC) {
			t.Errorf("err = %v, want ErrNoSpace and ENOSPC", err)
		}
		if err == nil || !strings.Contains(err.Error(), dst) || strings.Contains(err.Error(), treecopy.TempPrefix) {
			t.Errorf("error %v does not name a path of the destination %s", err, dst)
		}
		if len(st.Errors) != 0 {
			t.Errorf("%d more errors after the first ENOSPC: %v", len(st.Errors), st.Errors)
		}
		for name, want := range map[string][]byte{"big": data, "small": data[:50<<10]} {
			if got, err := os.ReadFile(filepath.Join(dst, name)); err == nil && !bytes.Equal(got, want) {
				t.Errorf("%s is in the copy with %d of its %d bytes", name, len(got), len(want))
			}
		}
		ents, _ := os.ReadDir(dst)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), treecopy.TempPrefix) {
				t.Errorf("temp file %s left behind", e.Name())
			}
		}
		must(t, os.RemoveAll(dst))
	}
}

// TestFarFutureTimes copies a file, a symlink and a directory whose times
// lie past 2262, beyond int64 nanoseconds since 1970: they keep their
// times (they became 1901 through UnixNano), and a rerun finds them up to
// date.
func TestFarFutureTimes(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "dir", "f"), []byte("x"), 0o644)
	must(t, os.Symlink("dir/f", filepath.Join(src, "lnk")))
	far := unix.Timespec{Sec: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), Nsec: 123_456_789}
	for _, name := range []string{"dir/f", "lnk", "dir"} {
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, name), []unix.Timespec{far, far}, unix.AT_SYMLINK_NOFOLLOW))
	}
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	for _, name := range []string{"dir/f", "lnk", "dir"} {
		fi, err := os.Lstat(filepath.Join(dst, name))
		must(t, err)
		if st := fi.Sys().(*syscall.Stat_t); st.Mtim.Sec != far.Sec || st.Mtim.Nsec != far.Nsec || st.Atim.Sec != far.Sec {
			t.Errorf("%s: mtime %v, atime %v; want %v", name, fi.ModTime().UTC(), time.Unix(st.Atim.Unix()).UTC(), time.Unix(far.Unix()).UTC())
		}
	}
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	if err != nil || st.Files != 0 || st.Symlinks != 0 || st.Skipped != 2 {
		t.Errorf("rerun: %+v, %v; want the file and symlink up to date", st, err)
	}
}

// TestDestinationSymlinkToDirectory copies a tree, and a file, onto a
// destination that is a symlink to a directory: like cp -a and rsync -a,
// the copy goes into the directory it points to, which takes the source
// directory's metadata; the link stays.
func TestDestinationSymlinkToDirectory(t *testing.T) {
	dir := t.TempDir()
	src, real, dst := filepath.Join(dir, "src"), filepath.Join(dir, "real"), filepath.Join(dir, "dstl")
	write(t, filepath.Join(src, "a"), []byte("a"), 0o644)
	write(t, filepath.Join(dir, "single"), []byte("s"), 0o644)
	must(t, os.Chmod(src, 0o750))
	mtime := time.Unix(1_600_000_000, 5)
	must(t, os.Chtimes(src, mtime, mtime))
	must(t, os.Mkdir(real, 0o755))
	must(t, os.Symlink("real", dst))
	for range 2 { // a rerun too
		_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
		must(t, err)
		if fi, err := os.Lstat(dst); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("the destination symlink was replaced by %v (%v)", fi.Mode(), err)
		}
		if got, _ := os.ReadFile(filepath.Join(real, "a")); string(got) != "a" {
			t.Errorf("real/a = %q, want the copy in the directory the link points to", got)
		}
		if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(mtime) {
			t.Errorf("real has mode %v, mtime %v; want the source's %v, %v", fi.Mode().Perm(), fi.ModTime(), os.FileMode(0o750), mtime)
		}
	}
	_, err := treecopy.Copy(t.Context(), filepath.Join(dir, "single"), dst, treecopy.Options{})
	must(t, err)
	if got, _ := os.ReadFile(filepath.Join(real, "single")); string(got) != "s" {
		t.Errorf("real/single = %q, want the file copied into the directory", got)
	}
}

// TestTempPrefixNamesInSource copies a source holding entries whose names
// start with TempPrefix without being temp files: a directory (one of the
// exact form a temp file has, too) and a file. Reruns leave them be —
// they used to fail on the directory, leaving its parent not updated, and
// to delete and recopy the file every time.
func TestTempPrefixNamesInSource(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, treecopy.TempPrefix+"notes", "n"), []byte("n"), 0o644)
	write(t, filepath.Join(src, treecopy.TempPrefix+"1-2", "n"), []byte("n"), 0o644)
	write(t, filepath.Join(src, treecopy.TempPrefix+"file"), []byte("f"), 0o644)
	write(t, filepath.Join(src, "top"), []byte("1"), 0o644)
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	write(t, filepath.Join(src, "top"), []byte("2"), 0o644)
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	if err != nil || st.Files != 1 {
		t.Errorf("rerun copied %d files (want 1, top): %v", st.Files, err)
	}
	compareTrees(t, src, dst)
}

// TestSetgidDestinationKeepsSourceGroup reruns a copy into a setgid
// directory, where new entries take the directory's group: the copies of
// a changed file, a changed symlink and a file in a new subdirectory keep
// their source's group, as with cp -a, even when that group is the
// copier's own. Changing groups needs root.
func TestSetgidDestinationKeepsSourceGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files other groups")
	}
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	sg := filepath.Join(src, "sg")
	write(t, filepath.Join(sg, "f"), []byte("v1"), 0o644)
	must(t, os.Symlink("f", filepath.Join(sg, "lnk")))
	must(t, os.Chown(sg, 0, 4242))
	must(t, os.Chmod(sg, 0o775|fs.ModeSetgid))
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	write(t, filepath.Join(sg, "f"), []byte("v2"), 0o644)
	must(t, os.Remove(filepath.Join(sg, "lnk")))
	must(t, os.Symlink("new target", filepath.Join(sg, "lnk")))
	write(t, filepath.Join(sg, "sub", "g"), []byte("g"), 0o644)
	// The source directory is setgid too: give its entries our group.
	for _, name := range []string{"lnk", "sub", "sub/g"} {
		must(t, os.Lchown(filepath.Join(sg, name), 0, 0))
	}
	for _, unnamed := range []bool{true, false} {
		if !unnamed {
			defer treecopy.NoTmpfile()()
			write(t, filepath.Join(sg, "f"), []byte("v3"), 0o644)
			must(t, os.RemoveAll(filepath.Join(dst, "sg", "sub")))
		}
		_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
		must(t, err)
		compareTrees(t, src, dst)
	}
}

// TestRerunSkipsLinksAndSpecialFiles reruns a copy over an up-to-date tree
// holding a hardlink, a FIFO and (as root) a device: the dry run lists
// nothing, the summary counts them up to date, and the special files are
// not made again. A changed file with two names is listed, and relinked,
// under both.
func TestRerunSkipsLinksAndSpecialFiles(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "a"), []byte("a"), 0o644)
	must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")))
	must(t, unix.Mkfifo(filepath.Join(src, "p"), 0o600))
	specials := []string{"p"}
	if os.Geteuid() == 0 {
		must(t, unix.Mknod(filepath.Join(src, "null"), syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		specials = append(specials, "null")
	}
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	inodes := map[string]uint64{}
	for _, name := range specials {
		fi, err := os.Lstat(filepath.Join(dst, name))
		must(t, err)
		inodes[name] = fi.Sys().(*syscall.Stat_t).Ino
	}
	var mu sync.Mutex
	var listed []string
	list := func(c treecopy.Change) {
		mu.Lock()
		listed = append(listed, c.Path)
		mu.Unlock()
	}
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{DryRun: true, OnChange: list})
	must(t, err)
	if len(listed) != 0 {
		t.Errorf("dry run over an up-to-date copy lists %q", listed)
	}
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{OnChange: list})
	must(t, err)
	if want := int64(2 + len(specials)); st.Links != 0 || st.Special != 0 || st.Skipped != want || len(listed) != 0 {
		t.Errorf("rerun: %+v, listed %q; want all %d entries skipped", st, listed, want)
	}
	for _, name := range specials {
		if fi, err := os.Lstat(filepath.Join(dst, name)); err != nil || fi.Sys().(*syscall.Stat_t).Ino != inodes[name] {
			t.Errorf("%s made again on a rerun (%v)", name, err)
		}
	}
	compareTrees(t, src, dst)

	write(t, filepath.Join(src, "a"), []byte("A"), 0o644)
	listed = nil
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{DryRun: true, OnChange: list})
	must(t, err)
	if slices.Sort(listed); !slices.Equal(listed, []string{"a", "b"}) {
		t.Errorf("dry run after a change lists %q, want both names", listed)
	}
	st, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	if st.Files != 1 || st.Links != 1 {
		t.Errorf("after a change: %+v, want one file copied and linked", st)
	}
	compareTrees(t, src, dst)
}

// TestMetadataOnlyChangeReachesCopy changes only metadata in the source —
// a mode, an owner, xattrs added and removed, a symlink's and a FIFO's
// mode or times — and reruns the copy: the copy takes the changes (as
// rsync -a does) without copying any content again.
func TestMetadataOnlyChangeReachesCopy(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	for _, name := range []string{"mode", "owner", "xattr-added", "xattr-removed"} {
		write(t, filepath.Join(src, name), []byte(name), 0o644)
	}
	if err := unix.Setxattr(filepath.Join(src, "xattr-removed"), "user.gone", []byte("v"), 0); err != nil {
		t.Skip("no user xattrs on this file system:", err)
	}
	must(t, os.Symlink("mode", filepath.Join(src, "lnk")))
	must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)

	must(t, os.Chmod(filepath.Join(src, "mode"), 0o600))
	if os.Geteuid() == 0 {
		must(t, os.Chown(filepath.Join(src, "owner"), 7, 7))
		must(t, os.Lchown(filepath.Join(src, "lnk"), 7, 7))
	}
	must(t, unix.Setxattr(filepath.Join(src, "xattr-added"), "user.crew", []byte("new"), 0))
	must(t, unix.Removexattr(filepath.Join(src, "xattr-removed"), "user.gone"))
	old := unix.NsecToTimespec(time.Unix(1_500_000_000, 0).UnixNano())
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, "lnk"), []unix.Timespec{old, old}, unix.AT_SYMLINK_NOFOLLOW))
	must(t, os.Chmod(filepath.Join(src, "fifo"), 0o640))

	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	if st.Files != 0 || st.Symlinks != 0 || st.Special != 0 || st.Meta+st.Skipped != 6 || st.Meta < 5 {
		t.Errorf("rerun: %+v; want no content copied, 5 or 6 entries' metadata updated, the rest up to date", st)
	}
	compareTrees(t, src, dst)
	if n, err := unix.Getxattr(filepath.Join(dst, "xattr-removed"), "user.gone", nil); err == nil {
		t.Errorf("xattr removed from the source is still on the copy (%d bytes)", n)
	}
}

// TestChecksumSkipCopiesMtime reruns a copy with Checksum over a file of
// the same content but another mtime: the file is skipped and takes the
// source's mtime, so a later run without Checksum skips it too.
func TestChecksumSkipCopiesMtime(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "a"), []byte("a"), 0o644)
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	old := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(dst, "a"), old, old))
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{Checksum: true})
	must(t, err)
	if st.Files != 0 || st.Meta != 1 {
		t.Errorf("checksum run: %+v; want the content kept, the mtime set (one metadata-only update)", st)
	}
	compareTrees(t, src, dst)
	st, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	if err != nil || st.Files != 0 {
		t.Errorf("run after the checksum run copied %d files (%v), want 0", st.Files, err)
	}
}

// posixACL is the xattr value of an ACL granting user 1234 rwx beside the
// usual owner, group, mask and other entries.
func posixACL() []byte {
	b := []byte{2, 0, 0, 0} // version 2
	for _, e := range [][3]uint32{{0x01, 7, ^uint32(0)}, {0x02, 7, 1234}, {0x04, 5, ^uint32(0)}, {0x10, 7, ^uint32(0)}, {0x20, 5, ^uint32(0)}} {
		b = append(b, byte(e[0]), byte(e[0]>>8), byte(e[1]), byte(e[1]>>8), byte(e[2]), byte(e[2]>>8), byte(e[2]>>16), byte(e[2]>>24))
	}
	return b
}

// TestDefaultACLNotInherited reruns a copy of a directory with a default
// ACL, which the copy of the directory has too, so that entries the rerun
// writes there inherit it: the copies of a changed file, a new
// subdirectory, a file in it and a new FIFO lose their ACLs again, since
// their sources have none, and keep their source's mode.
func TestDefaultACLNotInherited(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "d", "f"), []byte("v1"), 0o640)
	if err := unix.Setxattr(filepath.Join(src, "d"), "system.posix_acl_default", posixACL(), 0); err != nil {
		t.Skip("no POSIX ACLs on this file system:", err)
	}
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	write(t, filepath.Join(src, "d", "f"), []byte("v2"), 0o640)
	write(t, filepath.Join(src, "d", "sub", "g"), []byte("g"), 0o640)
	must(t, unix.Mkfifo(filepath.Join(src, "d", "fifo"), 0o600))
	for _, name := range []string{"d/f", "d/sub", "d/sub/g", "d/fifo"} { // made with the default ACL: drop it
		for _, acl := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
			if err := unix.Removexattr(filepath.Join(src, name), acl); err != nil && !errors.Is(err, unix.ENODATA) {
				t.Fatal(err)
			}
		}
	}
	must(t, os.Chmod(filepath.Join(src, "d", "sub", "g"), 0o640))
	for _, unnamed := range []bool{true, false} {
		if !unnamed {
			defer treecopy.NoTmpfile()()
			write(t, filepath.Join(src, "d", "f"), []byte("v3"), 0o640)
			must(t, os.RemoveAll(filepath.Join(dst, "d", "sub")))
		}
		_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
		must(t, err)
		for _, name := range []string{"d/f", "d/sub", "d/sub/g", "d/fifo"} {
			if n, err := unix.Getxattr(filepath.Join(dst, name), "system.posix_acl_access", nil); err == nil {
				t.Errorf("%s has an access ACL (%d bytes) its source lacks", name, n)
			}
		}
		if n, err := unix.Getxattr(filepath.Join(dst, "d", "sub"), "system.posix_acl_default", nil); err == nil {
			t.Errorf("d/sub has a default ACL (%d bytes) its source lacks", n)
		}
		compareTrees(t, src, dst)
	}
}

// TestKernelFileCopiedAsRead checks a sysfs file, which reports 4096
// bytes and holds a few: the copy has what reading it gives, as with cp.
func TestKernelFileCopiedAsRead(t *testing.T) {
	const src = "/sys/devices/system/cpu/online"
	want, err := os.ReadFile(src)
	if err != nil {
		t.Skip("no", src, err)
	}
	dst := filepath.Join(t.TempDir(), "online")
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) {
		t.Errorf("copy of %s holds %q, want %q", src, got, want)
	}
}

// TestDestinationRootKeepsItsXattrs checks that copying into an existing
// directory — a shared folder with its own ACL, say — adds to that
// directory's extended attributes and removes none, as cp -a does; below
// it, the copy's entries follow their sources.
func TestDestinationRootKeepsItsXattrs(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "src"), filepath.Join(root, "shared")
	write(t, filepath.Join(src, "sub", "f"), []byte("x"), 0o644)
	must(t, os.MkdirAll(filepath.Join(dst, "sub"), 0o755))
	if err := unix.Setxattr(dst, "user.keep", []byte("mine"), 0); err != nil {
		t.Skip("no user xattrs on this file system:", err)
	}
	must(t, unix.Setxattr(filepath.Join(dst, "sub"), "user.stale", []byte("old"), 0))
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	buf := make([]byte, 16)
	if n, err := unix.Getxattr(dst, "user.keep", buf); err != nil || string(buf[:n]) != "mine" {
		t.Errorf("the destination directory lost its own xattr: %q, %v", buf[:n], err)
	}
	if _, err := unix.Getxattr(filepath.Join(dst, "sub"), "user.stale", buf); !errors.Is(err, unix.ENODATA) {
		t.Errorf("a copied directory kept an xattr its source lacks: %v", err)
	}
}

// TestSpecialDestinationNotReplaced checks that a file is not copied over
// a FIFO or device node standing at the destination (crew copy f /dev/full
// used to replace the device with a regular file).
func TestSpecialDestinationNotReplaced(t *testing.T) {
	root := t.TempDir()
	src, dst := filepath.Join(root, "f"), filepath.Join(root, "fifo")
	write(t, src, []byte("x"), 0o644)
	must(t, unix.Mkfifo(dst, 0o644))
	if _, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{}); !errors.Is(err, treecopy.ErrRefused) {
		t.Errorf("copy onto a FIFO: %v, want ErrRefused", err)
	}
	if fi, err := os.Lstat(dst); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v, %v", fi.Mode(), err)
	}
}
