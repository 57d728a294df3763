//go:build darwin || freebsd

package treecopy

import "golang.org/x/sys/unix"

// copyUnnamed reports errNoTmpfile: there is no O_TMPFILE here, so every
// file is written under a temp name and renamed.
func (c *copier) copyUnnamed(job) (int64, error) { return 0, errNoTmpfile }

// copyRange copies n bytes at off with pread and pwrite.
func copyRange(in, out int, off, n int64) (int64, error) { return copyPread(in, out, off, n) }

// futimens sets the times of the file at path (fd open on it): by path,
// as utimensat gives nanoseconds where futimes gives microseconds.
func futimens(_ int, path string, ts *[2]unix.Timespec) error {
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts[:], unix.AT_SYMLINK_NOFOLLOW)
}
