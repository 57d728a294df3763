//go:build linux

package treecopy_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crewrun/crew/treecopy"
)

// TestDirectoryOntoFileRefused copies a directory onto an existing regular
// file: refused, as cp -a -T refuses, and the file is kept (it used to be
// deleted and replaced by the directory, exit 0).
func TestDirectoryOntoFileRefused(t *testing.T) {
	dir := t.TempDir()
	src, file := filepath.Join(dir, "src"), filepath.Join(dir, "precious")
	write(t, filepath.Join(src, "f"), []byte("x"), 0o644)
	write(t, file, []byte("keep me"), 0o644)
	for _, opts := range []treecopy.Options{{}, {Delete: true}, {DryRun: true}} {
		if _, err := treecopy.Copy(t.Context(), src, file, opts); !errors.Is(err, treecopy.ErrRefused) {
			t.Errorf("%+v: err = %v, want ErrRefused", opts, err)
		}
		if got, err := os.ReadFile(file); string(got) != "keep me" {
			t.Fatalf("%+v: the file was lost: %q, %v", opts, got, err)
		}
	}
}

// TestNonDirectoryWhereSourceHasDirectoryKept reruns a copy over a
// destination holding a file and a symlink where the source has
// directories: both are kept and reported, the rest is copied; with
// Delete (the source no longer has them) they are replaced.
func TestNonDirectoryWhereSourceHasDirectoryKept(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "file", "inner"), []byte("1"), 0o644)
	write(t, filepath.Join(src, "link", "inner"), []byte("2"), 0o644)
	write(t, filepath.Join(src, "other"), []byte("3"), 0o644)
	write(t, filepath.Join(dst, "file"), []byte("user's file"), 0o644)
	must(t, os.Symlink("/etc", filepath.Join(dst, "link")))
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	if !errors.Is(err, treecopy.ErrPartial) || len(st.Errors) != 2 {
		t.Fatalf("err = %v, errors %v; want the two reported", err, st.Errors)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "file")); string(got) != "user's file" {
		t.Errorf("dst/file = %q: deleted to make room", got)
	}
	if got, _ := os.Readlink(filepath.Join(dst, "link")); got != "/etc" {
		t.Errorf("dst/link -> %q: deleted to make room", got)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "other")); string(got) != "3" {
		t.Errorf("the rest was not copied: other = %q", got)
	}
	var mu sync.Mutex
	var dry []string
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Delete: true, DryRun: true, OnChange: func(c treecopy.Change) {
		mu.Lock()
		dry = append(dry, c.Itemized()+" "+c.Path)
		mu.Unlock()
	}})
	must(t, err)
	if got, _ := os.ReadFile(filepath.Join(dst, "file")); string(got) != "user's file" {
		t.Errorf("the dry run deleted dst/file")
	}
	st, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Delete: true})
	must(t, err)
	if st.Deleted != 2 {
		t.Errorf("deleted %d, want 2; dry run listed %q", st.Deleted, dry)
	}
	compareTrees(t, src, dst)
}

// TestHardlinkedSymlinksAndFIFOsStayLinked copies a symlink and a FIFO that
// each have two names: like cp -a, the copy has one inode for each pair
// (they used to become separate entries), and a rerun leaves them be.
func TestHardlinkedSymlinksAndFIFOsStayLinked(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, os.Symlink("target", filepath.Join(src, "s1")))
	must(t, os.Link(filepath.Join(src, "s1"), filepath.Join(src, "sub", "s2")))
	must(t, unix.Mkfifo(filepath.Join(src, "p1"), 0o640))
	must(t, os.Link(filepath.Join(src, "p1"), filepath.Join(src, "sub", "p2")))
	for run := range 2 {
		st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
		must(t, err)
		for _, pair := range [][2]string{{"s1", "sub/s2"}, {"p1", "sub/p2"}} {
			a, err := os.Lstat(filepath.Join(dst, pair[0]))
			must(t, err)
			b, err := os.Lstat(filepath.Join(dst, pair[1]))
			must(t, err)
			if !os.SameFile(a, b) || a.Sys().(*syscall.Stat_t).Nlink != 2 {
				t.Errorf("run %d: %s and %s are not one inode in the copy", run, pair[0], pair[1])
			}
		}
		if run == 1 && st.Links+st.Symlinks+st.Special+st.Meta != 0 {
			t.Errorf("rerun changed something: %+v", st)
		}
	}
	compareTrees(t, src, dst)
}

// TestHardlinkSplitReachesCopy splits a hardlink in the source (b becomes
// a file of its own, same content and mtime) and reruns: the copy's a and
// b stop sharing an inode, and a further rerun changes nothing (it used to
// leave them linked and chmod both on every run).
func TestHardlinkSplitReachesCopy(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "a"), []byte("shared"), 0o644)
	must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")))
	_, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	// Split: b becomes a copy of its own, with a's mtime.
	fi, err := os.Stat(filepath.Join(src, "a"))
	must(t, err)
	write(t, filepath.Join(src, "b.new"), []byte("shared"), 0o644)
	must(t, os.Chtimes(filepath.Join(src, "b.new"), fi.ModTime(), fi.ModTime()))
	must(t, os.Rename(filepath.Join(src, "b.new"), filepath.Join(src, "b")))
	must(t, os.Chtimes(src, fi.ModTime(), fi.ModTime()))
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	if st.Files != 1 {
		t.Errorf("split rerun copied %d files, want 1: %+v", st.Files, st)
	}
	a, _ := os.Lstat(filepath.Join(dst, "a"))
	b, _ := os.Lstat(filepath.Join(dst, "b"))
	if os.SameFile(a, b) {
		t.Fatal("a and b still share an inode in the copy")
	}
	// Writing through one name must not change the other.
	must(t, os.WriteFile(filepath.Join(src, "a"), []byte("SHARED"), 0o644))
	_, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	st, err = treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	must(t, err)
	if st.Files+st.Meta+st.Links != 0 {
		t.Errorf("a rerun over an up-to-date copy changed things: %+v", st)
	}
	compareTrees(t, src, dst)
}

// TestTempNamedSourceEntriesKept copies source entries named exactly like
// crew's temp files: reruns neither delete nor copy them again (they used
// to be removed as leftovers and recopied on every run).
func TestTempNamedSourceEntriesKept(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, treecopy.TempPrefix+"1-1"), []byte("mine"), 0o644)
	write(t, filepath.Join(src, "sub", treecopy.TempPrefix+strconv.Itoa(os.Getpid())+"-1"), []byte("also mine"), 0o644)
	for run := range 3 {
		st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{Workers: 1})
		must(t, err)
		if run > 0 && st.Files != 0 {
			t.Errorf("run %d copied %d files again", run, st.Files)
		}
	}
	compareTrees(t, src, dst)
}

// TestVanishedSourceReportedApart deletes a source file after the walk
// listed it, before its copy: it is reported in Stats.Vanished and the
// error is ErrVanished (not ErrPartial); the rest is copied.
func TestVanishedSourceReportedApart(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "gone"), []byte("x"), 0o644)
	write(t, filepath.Join(src, "stays"), []byte("y"), 0o644)
	defer treecopy.BeforeEntry(func(p string) {
		if filepath.Base(p) == "gone" {
			os.Remove(p)
		}
	})()
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{})
	if !errors.Is(err, treecopy.ErrVanished) || errors.Is(err, treecopy.ErrPartial) {
		t.Errorf("err = %v, want ErrVanished alone", err)
	}
	if len(st.Vanished) != 1 || st.Vanished[0] != filepath.Join(src, "gone") || len(st.Errors) != 0 {
		t.Errorf("vanished %q, errors %v", st.Vanished, st.Errors)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "stays")); string(got) != "y" {
		t.Errorf("stays = %q", got)
	}
}

// TestConcurrentRunsIntoOneDestination starts a copy in one process and,
// while it holds its destination, another into the same destination in a
// second process: the second is refused at once, naming the first
// process, and changes nothing; the first finishes a complete copy.
func TestConcurrentRunsIntoOneDestination(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	for i := range 50 {
		write(t, filepath.Join(src, fmt.Sprint("d", i%5), fmt.Sprint("f", i)), []byte(fmt.Sprint(i)), 0o644)
	}
	first := exec.Command(os.Args[0], "-test.run=^$", src, dst)
	first.Env = append(os.Environ(), "TREECOPY_CHILD=hold")
	stdin, err := first.StdinPipe()
	must(t, err)
	stdout, err := first.StdoutPipe()
	must(t, err)
	var stderr strings.Builder
	first.Stderr = &stderr
	must(t, first.Start())
	// The first copy says when it is under way (holding the lock), then
	// waits for a line on its standard input before copying anything.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "started\n" {
		first.Process.Kill()
		first.Wait()
		t.Fatalf("first copy: %q, %v; stderr %s", line, err, stderr.String())
	}
	second := exec.Command(os.Args[0], "-test.run=^$", src, dst)
	second.Env = append(os.Environ(), "TREECOPY_CHILD=report")
	out, err := second.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "process "+strconv.Itoa(first.Process.Pid)) {
		t.Errorf("second copy: %v, output %q; want refused (3), naming process %d", err, out, first.Process.Pid)
	}
	stdin.Close()
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("first copy: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		first.Process.Kill()
		<-done
		t.Fatal("first copy did not finish")
	}
	compareTrees(t, src, dst)
}

// TestVanishedDirectoryNotMade removes a source directory after its parent
// was read: it is reported as vanished and not made, empty, in the copy.
func TestVanishedDirectoryNotMade(t *testing.T) {
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	write(t, filepath.Join(src, "a"), []byte("x"), 0o644)
	write(t, filepath.Join(src, "sub", "f"), []byte("y"), 0o644)
	defer treecopy.BeforeDir(func(p string) {
		if filepath.Base(p) == "sub" {
			os.RemoveAll(p)
		}
	})()
	st, err := treecopy.Copy(t.Context(), src, dst, treecopy.Options{Workers: 1})
	if !errors.Is(err, treecopy.ErrVanished) || len(st.Vanished) != 1 || st.Vanished[0] != filepath.Join(src, "sub") {
		t.Fatalf("err %v, vanished %q", err, st.Vanished)
	}
	if _, err := os.Lstat(filepath.Join(dst, "sub")); !os.IsNotExist(err) {
		t.Errorf("the vanished directory was made in the copy: %v", err)
	}
}

// TestHardlinkBetweenFileSourceAndTreeKept copies, in one run, a single
// file and a directory holding another name of it: the copy has them as
// one inode, as cp -a and rsync -aH keep hardlinks between their
// arguments (a single file used to be copied apart from the rest).
func TestHardlinkBetweenFileSourceAndTreeKept(t *testing.T) {
	root := t.TempDir()
	file, tree, dst := filepath.Join(root, "c.txt"), filepath.Join(root, "a"), filepath.Join(root, "dst")
	write(t, file, []byte("shared"), 0o644)
	must(t, os.MkdirAll(tree, 0o755))
	must(t, os.Link(file, filepath.Join(tree, "h")))
	must(t, os.Mkdir(dst, 0o755))
	trees := []treecopy.Tree{
		{Src: file, Dst: filepath.Join(dst, "c.txt"), Rel: "c.txt"},
		{Src: tree, Dst: filepath.Join(dst, "a"), Rel: "a/"},
	}
	for run := range 2 {
		st, err := treecopy.CopyTrees(t.Context(), trees, treecopy.Options{})
		must(t, err)
		a, err := os.Lstat(filepath.Join(dst, "c.txt"))
		must(t, err)
		b, err := os.Lstat(filepath.Join(dst, "a", "h"))
		must(t, err)
		if !os.SameFile(a, b) {
			t.Errorf("run %d: c.txt and a/h are two files in the copy (%+v)", run, st)
		}
		if run == 1 && st.Files+st.Links != 0 {
			t.Errorf("rerun copied again: %+v", st)
		}
	}
}

// TestDeleteNeverFollowsSwappedDirectory replaces, during a Delete run, a
// directory being emptied by a symlink to a directory outside the
// destination: nothing outside is deleted (its subdirectories used to be
// opened by their full path again, through the new symlink).
func TestDeleteNeverFollowsSwappedDirectory(t *testing.T) {
	root := t.TempDir()
	src, dst, outside := filepath.Join(root, "src"), filepath.Join(root, "dst"), filepath.Join(root, "outside")
	write(t, filepath.Join(src, "keep"), []byte("k"), 0o644)
	write(t, filepath.Join(dst, "gone", "sub", "x"), []byte("old"), 0o644)
	write(t, filepath.Join(outside, "sub", "x"), []byte("precious"), 0o644)
	swapped := false
	defer treecopy.BeforeDelete(func(p string) {
		if !swapped && p == filepath.Join(dst, "gone", "sub") {
			swapped = true
			must(t, os.Rename(filepath.Join(dst, "gone"), filepath.Join(root, "moved")))
			must(t, os.Symlink(outside, filepath.Join(dst, "gone")))
		}
	})()
	_, _ = treecopy.Copy(t.Context(), src, dst, treecopy.Options{Delete: true, Workers: 1})
	if !swapped {
		t.Fatal("the deletion of gone/sub was never reached")
	}
	if got, err := os.ReadFile(filepath.Join(outside, "sub", "x")); string(got) != "precious" {
		t.Errorf("a file outside the destination was deleted: %q, %v", got, err)
	}
}
