//go:build linux

package treecopy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSourceChangedAfterLstat copies files rewritten between the worker's
// lstat and the copy: the copy is of the file as it is when opened, at its
// size then — not padded with zeros to the size the lstat saw, nor cut to
// it. Both sizes take their own path (small files in one piece, larger
// ones by data extents), and both ways of writing (unnamed in a new
// directory, temp name otherwise).
func TestSourceChangedAfterLstat(t *testing.T) {
	for _, size := range []int{1000, 200 << 10} {
		for _, fresh := range []bool{true, false} {
			for _, now := range [][]byte{[]byte("new"), bytes.Repeat([]byte("y"), 2*size)} {
				dir := t.TempDir()
				src, dst := filepath.Join(dir, "s"), filepath.Join(dir, "d")
				if err := os.WriteFile(src, bytes.Repeat([]byte("x"), size), 0o644); err != nil {
					t.Fatal(err)
				}
				fi, err := os.Lstat(src) // what the worker saw
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(src, now, 0o644); err != nil { // rewritten meanwhile
					t.Fatal(err)
				}
				c := newCopier(Options{}, func(error) {})
				if _, err := c.entry(job{src: src, dst: dst, fi: fi, fresh: fresh, srcDir: -1, dstDir: -1}); err != nil {
					t.Errorf("size %d → %d, fresh %v: %v", size, len(now), fresh, err)
				}
				if got, _ := os.ReadFile(dst); !bytes.Equal(got, now) {
					t.Errorf("size %d → %d, fresh %v: copied as %d bytes (%.8q…)", size, len(now), fresh, len(got), got)
				}
			}
		}
	}
}

// TestSourceShrinkingDuringCopyFails gives each way of copying content a
// source that ends before the size it had when opened, as when it is
// truncated mid-copy: each reports errChanged, where they used to report
// the bytes they found as all there was (and the rest became a hole).
func TestSourceShrinkingDuringCopyFails(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "s")
	if err := os.WriteFile(src, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := unix.Open(src, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	for name, copyFn := range map[string]func(out int) (int64, error){
		"copy_file_range": func(out int) (int64, error) { return copyRange(in, out, 0, 1000) },
		"extents":         func(out int) (int64, error) { return copyExtents(in, out, 200<<10) },
		"pread-pwrite":    func(out int) (int64, error) { return copyPread(in, out, 0, 1000) },
	} {
		out, err := unix.Open(filepath.Join(dir, name), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := copyFn(out); !errors.Is(err, errChanged) || n != 3 {
			t.Errorf("%s: copied %d bytes of 3, error %v; want errChanged", name, n, err)
		}
		unix.Close(out)
	}
}

// TestVanishedWhileOpening removes a source file between its lstat and
// its open: reported as vanished, not as a failure.
func TestVanishedWhileOpening(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "s"), filepath.Join(dir, "d")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(src)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(src)
	c := newCopier(Options{}, func(error) {})
	_, err = c.entry(job{src: src, dst: dst, fi: fi, fresh: true, srcDir: -1, dstDir: -1})
	c.fail(err)
	if len(c.stats.Vanished) != 1 || len(c.stats.Errors) != 0 {
		t.Errorf("vanished %q, errors %v", c.stats.Vanished, c.stats.Errors)
	}
}
