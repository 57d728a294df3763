// File-copier copies a directory tree with several workers, as the
// tutorials do with threads pulling file names from a queue and
// shutil.copy. Package treecopy (what `crew copy SRC DST` runs) does it
// properly: workers fed from a bounded queue, each file written under a
// temporary name and renamed when complete, metadata kept like cp -a, and a
// rerun skipping what is already there.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crewrun/crew/treecopy"
)

func main() {
	src, err := os.MkdirTemp("", "file-copier-src-")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer os.RemoveAll(src)
	for i := range 50 {
		dir := filepath.Join(src, fmt.Sprintf("dir%d", i%5))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%02d.txt", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644)
	}
	dst := src + "-copy"
	defer os.RemoveAll(dst)

	ctx := context.Background()
	for _, run := range []string{"first copy", "rerun"} {
		st, err := treecopy.Copy(ctx, src, dst, treecopy.Options{Workers: 4})
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%s: %d files copied, %d skipped\n", run, st.Files, st.Skipped)
	}
}
