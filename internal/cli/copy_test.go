package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
