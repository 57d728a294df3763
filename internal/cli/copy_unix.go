//go:build unix

package cli

import (
	"io/fs"
	"syscall"
)

// allocatedBlocks is fi's st_blocks (512-byte units).
func allocatedBlocks(fi fs.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int64(st.Blocks), true
}
