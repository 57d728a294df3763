package treecopy

import "golang.org/x/sys/unix"

// The times of a stat.
func atim(st *unixStat) unix.Timespec { return unix.Timespec(st.Atim) }
func mtim(st *unixStat) unix.Timespec { return unix.Timespec(st.Mtim) }
func ctim(st *unixStat) unix.Timespec { return unix.Timespec(st.Ctim) }

// pathFlag opens a directory only to look names up in it.
const pathFlag = unix.O_PATH

// errNoAttr is a missing xattr.
var errNoAttr = unix.ENODATA

// hasDefaultACL reports whether the directory dir has a default ACL. One
// lookup per directory: an O_PATH descriptor cannot read xattrs.
func hasDefaultACL(dir string) bool {
	n, err := unix.Lgetxattr(dir, aclDefault, nil)
	return err == nil && n > 0
}

// mknodMode makes the special file p of mode and device number rdev.
func mknodMode(p string, mode uint32, rdev uint64) error { return unix.Mknod(p, mode, int(rdev)) }
