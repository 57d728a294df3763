//go:build linux || darwin || freebsd

package treecopy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// meta applies ownership (when root), xattrs, mode and nanosecond times from
// src to dst, in that order because chown clears setuid bits.
func (c *copier) meta(src, dst string, fi fs.FileInfo) error {
	st := fi.Sys().(*unixStat)
	isLink := fi.Mode()&fs.ModeSymlink != 0
	// Always, when root: a new entry in a setgid directory has the
	// directory's group, not ours, and an existing one anybody's.
	if c.root {
		if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return pathError("chown", dst, err)
		}
	}
	if err := copyXattrs(src, dst, !c.dstRoots[dst]); err != nil {
		return err
	}
	if !isLink {
		if err := chmodNoFollow(dst, uint32(st.Mode)&07777); err != nil {
			return pathError("chmod", dst, err)
		}
	}
	ts := times(st)
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return pathError("set times", dst, err)
	}
	return nil
}

// copyXattrs copies src's extended attributes to dst and, if prune,
// removes those of dst's that src lacks (see removable).
func copyXattrs(src, dst string, prune bool) error {
	names, err := xattrs{
		src: src, dst: dst,
		list: func(b []byte) (int, error) { return unix.Llistxattr(src, b) },
		get:  func(a string, b []byte) (int, error) { return unix.Lgetxattr(src, a, b) },
		set:  func(a string, b []byte) error { return unix.Lsetxattr(dst, a, b, 0) },
	}.copy()
	if err != nil || !prune {
		return err
	}
	theirs, err := listXattrs(dst, func(b []byte) (int, error) { return unix.Llistxattr(dst, b) })
	if err != nil {
		return err
	}
	for _, name := range theirs {
		if removable(name) && !slices.Contains(names, name) {
			if err := unix.Lremovexattr(dst, name); err != nil && !errors.Is(err, errNoAttr) &&
				!errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
				return pathError("removexattr "+name, dst, err)
			}
		}
	}
	return nil
}

// removable reports whether an xattr the source lacks is removed from its
// copy: those a copy can have only from an earlier source or from its
// directory (an inherited ACL), not the security.* labels the system
// itself gives files.
func removable(name string) bool {
	return strings.HasPrefix(name, "user.") || strings.HasPrefix(name, "trusted.") ||
		name == aclAccess || name == aclDefault
}

// The xattrs that hold POSIX ACLs.
const (
	aclAccess  = "system.posix_acl_access"
	aclDefault = "system.posix_acl_default"
)

// xattrs copies extended attributes with list/get on the source and set
// on the destination, by path or by descriptor.
type xattrs struct {
	src, dst string // for messages
	list     func([]byte) (int, error)
	get      func(string, []byte) (int, error)
	set      func(string, []byte) error
}

// copy copies every attribute, returning the names it found.
func (x xattrs) copy() (names []string, err error) {
	names, err = listXattrs(x.src, x.list)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		sz, err := x.get(name, nil)
		if err != nil {
			return nil, sourceError("getxattr "+name, x.src, err)
		}
		val := make([]byte, sz)
		sz, err = x.get(name, val)
		if err != nil {
			return nil, sourceError("getxattr "+name, x.src, err)
		}
		if err := x.set(name, val[:sz]); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
				continue // e.g. security.* attributes, or user.* on symlinks
			}
			return nil, pathError("setxattr "+name, x.dst, err)
		}
	}
	return names, nil
}

// listXattrs returns the names of path's extended attributes, which list
// reads; none where the file system has none.
func listXattrs(path string, list func([]byte) (int, error)) ([]string, error) {
	var small [1024]byte
	buf := small[:]
	n, err := list(buf)
	for errors.Is(err, unix.ERANGE) { // longer than buf: ask the size
		var sz int
		if sz, err = list(nil); err == nil {
			buf = make([]byte, sz+256) // room to grow meanwhile
			n, err = list(buf)
		}
	}
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, pathError("listxattr", path, err)
	}
	var names []string
	for name := range strings.SplitSeq(string(buf[:n]), "\x00") {
		if name != "" {
			names = append(names, name)
		}
	}
	return names, nil
}

// xattrsDiffer reports whether the extended attributes of src and dst
// differ: any of src's missing or different on dst, or, if prune, one of
// dst's that src lacks and that a copy removes (see removable).
func xattrsDiffer(src, dst string, prune bool) bool {
	a, err := readXattrs(src)
	if err != nil {
		return true
	}
	b, err := readXattrs(dst)
	if err != nil {
		return true
	}
	for name, v := range a {
		if w, ok := b[name]; !ok || !bytes.Equal(v, w) {
			return true
		}
	}
	if prune {
		for name := range b {
			if _, ok := a[name]; !ok && removable(name) {
				return true
			}
		}
	}
	return false
}

// readXattrs returns the extended attributes of path (not following a
// symlink).
func readXattrs(path string) (map[string][]byte, error) {
	names, err := listXattrs(path, func(b []byte) (int, error) { return unix.Llistxattr(path, b) })
	if err != nil {
		return nil, err
	}
	m := make(map[string][]byte, len(names))
	for _, name := range names {
		sz, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			continue
		}
		v := make([]byte, sz)
		if sz, err = unix.Lgetxattr(path, name, v); err == nil {
			m[name] = v[:sz]
		}
	}
	return m, nil
}

var _ = fmt.Sprint
var _ fs.FileMode
