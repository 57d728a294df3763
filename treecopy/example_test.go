//go:build linux

package treecopy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crewrun/crew/treecopy"
)

func ExampleCopy() {
	dir, _ := os.MkdirTemp("", "treecopy-example")
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "docs"), 0o755)
	os.WriteFile(filepath.Join(src, "docs", "a.txt"), []byte("hello"), 0o644)
	os.Symlink("docs/a.txt", filepath.Join(src, "latest"))

	dst := filepath.Join(dir, "backup")
	stats, err := treecopy.Copy(context.Background(), src, dst, treecopy.Options{})
	fmt.Println(stats.Files, "file,", stats.Symlinks, "symlink,", stats.Bytes, "bytes", err)

	// A rerun skips what is already up to date.
	stats, err = treecopy.Copy(context.Background(), src, dst, treecopy.Options{})
	fmt.Println(stats.Files, "copied,", stats.Skipped, "skipped", err)
	// Output:
	// 1 file, 1 symlink, 5 bytes <nil>
	// 0 copied, 2 skipped <nil>
}
