package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCopyFullDiskStops copies onto a small tmpfs: one error line, a line
// saying the copy stopped with what it had copied, exit 1 (needs root).
func TestCopyFullDiskStops(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir, mnt := t.TempDir(), t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64k"); err != nil {
		t.Skip("cannot mount a tmpfs:", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	src := filepath.Join(dir, "src")
	mustCopy(t, os.MkdirAll(src, 0o755))
	for i := range 200 {
		mustCopy(t, os.WriteFile(filepath.Join(src, fmt.Sprint(i)), bytes.Repeat([]byte("z"), 8<<10), 0o644))
	}
	code, _, stderr := runCrewCopy(t, "copy", src+"/", filepath.Join(mnt, "dst"))
	if code != exitFailed || strings.Count(stderr, "no space left") != 1 || !strings.Contains(stderr, "stopped at the first full-disk error") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}
