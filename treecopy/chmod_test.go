//go:build linux

package treecopy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMetaNeverChmodsThroughSymlink applies a regular file's metadata to a
// name that a symlink to a file outside the copy took meanwhile (a swap
// between the lstat that found the copy up to date and its chmod): the
// target keeps its mode and an error names the copy (chmod used to follow
// the link: as root, any file's mode could be changed). It runs with and
// without fchmodat2 (Linux before 6.6 has none).
func TestMetaNeverChmodsThroughSymlink(t *testing.T) {
	for _, old := range []bool{false, true} {
		if old {
			defer func(f func(int, string, uint32, int) error) { fchmodat = f }(fchmodat)
			fchmodat = func(int, string, uint32, int) error { return unix.EOPNOTSUPP }
		}
		dir := t.TempDir()
		src, outside, dst := filepath.Join(dir, "src"), filepath.Join(dir, "outside"), filepath.Join(dir, "dst")
		for p, mode := range map[string]os.FileMode{src: 0o777, outside: 0o600, dst: 0o644} {
			if err := os.WriteFile(p, []byte("x"), mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
		}
		fi, err := os.Lstat(src)
		if err != nil {
			t.Fatal(err)
		}
		c := newCopier(Options{}, func(error) {})
		if err := c.meta(src, dst, fi); err != nil {
			t.Fatalf("old kernel %v: meta on a file: %v", old, err)
		}
		if got, _ := os.Stat(dst); got.Mode().Perm() != 0o777 {
			t.Errorf("old kernel %v: the copy's mode is %v", old, got.Mode())
		}
		if err := os.Remove(dst); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, dst); err != nil {
			t.Fatal(err)
		}
		err = c.meta(src, dst, fi)
		var pe *PathError
		if !errors.As(err, &pe) || pe.Path != dst {
			t.Errorf("old kernel %v: meta through a symlink: %v, want an error naming %s", old, err, dst)
		}
		if got, _ := os.Stat(outside); got.Mode().Perm() != 0o600 {
			t.Errorf("old kernel %v: the file outside was chmodded to %v", old, got.Mode())
		}
	}
}
