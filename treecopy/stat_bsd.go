//go:build darwin || freebsd

package treecopy

import "golang.org/x/sys/unix"

// The times of a stat.
func atim(st *unixStat) unix.Timespec { return unix.Timespec(st.Atimespec) }
func mtim(st *unixStat) unix.Timespec { return unix.Timespec(st.Mtimespec) }
func ctim(st *unixStat) unix.Timespec { return unix.Timespec(st.Ctimespec) }

// pathFlag opens a directory only to look names up in it (there is no
// O_PATH here: read access it is, without blocking on a FIFO).
const pathFlag = unix.O_RDONLY | unix.O_NONBLOCK

// errNoAttr is a missing xattr.
var errNoAttr = unix.ENOATTR

// hasDefaultACL is false: POSIX default ACLs as xattrs are Linux's.
func hasDefaultACL(string) bool { return false }

// mknodMode makes the special file p of mode and device number rdev.
func mknodMode(p string, mode uint32, rdev uint64) error { return mknodDev(p, mode, rdev) }
