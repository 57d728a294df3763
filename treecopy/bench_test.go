//go:build linux

package treecopy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/crewrun/crew/treecopy"
)

// smallTree makes dirs directories of files 4 KiB files each, the shape of
// the copy benchmark in bench/copy (200 × 100 there).
func smallTree(b *testing.B, root string, dirs, files int) {
	b.Helper()
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range files {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", f)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCopySmallFiles copies 2 000 files of 4 KiB in 20 directories
// into a new destination each time; files/s and allocations per file are
// what to watch (-benchmem).
func BenchmarkCopySmallFiles(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	smallTree(b, src, 20, 100)
	out := b.TempDir()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		st, err := treecopy.Copy(context.Background(), src, filepath.Join(out, fmt.Sprint(i)), treecopy.Options{})
		if err != nil || st.Files != 2000 {
			b.Fatalf("copied %d files: %v", st.Files, err)
		}
	}
	b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkRerunUnchanged copies the same tree again over an up-to-date
// copy: the cost of finding that nothing needs doing.
func BenchmarkRerunUnchanged(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	smallTree(b, src, 20, 100)
	dst := filepath.Join(b.TempDir(), "dst")
	if _, err := treecopy.Copy(context.Background(), src, dst, treecopy.Options{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := treecopy.Copy(context.Background(), src, dst, treecopy.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "files/s")
}
