package treecopy

import "golang.org/x/sys/unix"

func mknodDev(p string, mode uint32, rdev uint64) error { return unix.Mknod(p, mode, int(rdev)) }
