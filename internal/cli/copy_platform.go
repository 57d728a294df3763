package cli

import (
	"io/fs"
	"os"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// allocated is the data a regular file holds: its allocated size where the
// system reports it, no more than its length.
func allocated(fi fs.FileInfo) int64 {
	if blocks, ok := allocatedBlocks(fi); ok {
		return min(blocks*512, fi.Size())
	}
	return fi.Size()
}
