//go:build linux || darwin || freebsd

package treecopy

import (
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// checkPaths refuses a copy onto its own source (dst is src) or into it
// (dst below src, where the copy would copy itself without end). It
// compares device and inode numbers, not path strings: the kernel resolves
// dst, or the longest part of it that exists, and the directories above
// are reached by "..", which is how the copy's writes reach them. Text
// cannot see where "link/.." leads, nor that a bind mount shows the
// source under another name; the kernel can. sfi is src's lstat.
func checkPaths(src string, sfi fs.FileInfo, dst string) error {
	s := sfi.Sys().(*unixStat)
	isSrc := func(st *unix.Stat_t) bool { return st.Dev == s.Dev && st.Ino == s.Ino }
	p, exact := dst, true
	fd, err := unix.Open(p, pathFlag|unix.O_CLOEXEC, 0)
	for err != nil {
		// Missing, a dangling link or otherwise not reachable: what the
		// copy makes is a new entry in the directory above.
		parent, ok := parentPath(p)
		if !ok || parent == p {
			return nil // nothing of dst is reachable: the copy fails by itself
		}
		p, exact = parent, false
		fd, err = unix.Open(p, pathFlag|unix.O_CLOEXEC, 0)
	}
	defer func() { unix.Close(fd) }()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%w: destination %s: %w", ErrRefused, Quote(dst), err)
	}
	if exact && isSrc(&st) {
		return fmt.Errorf("%w: source and destination are the same: %s", ErrRefused, Quote(src))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		// An existing file: it is replaced in the directory above.
		parent, ok := parentPath(p)
		if !ok {
			return nil
		}
		unix.Close(fd)
		if fd, err = unix.Open(parent, pathFlag|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return nil
		}
		if err := unix.Fstat(fd, &st); err != nil {
			return nil
		}
	}
	for {
		if isSrc(&st) {
			return fmt.Errorf("%w: destination %s is inside source %s", ErrRefused, Quote(dst), Quote(src))
		}
		up, err := unix.Openat(fd, "..", pathFlag|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil
		}
		unix.Close(fd)
		fd = up
		var ust unix.Stat_t
		if err := unix.Fstat(fd, &ust); err != nil || ust.Dev == st.Dev && ust.Ino == st.Ino {
			return nil // the root: its ".." is itself
		}
		st = ust
	}
}
