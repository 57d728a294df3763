//go:build linux || darwin || freebsd

package treecopy

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Flags for opening a source directory.
const (
	dirFlag      = unix.O_DIRECTORY
	noFollowFlag = unix.O_NOFOLLOW
)

// errNotDir is a destination that exists and is not a directory.
var errNotDir = errors.New("not a directory")

// dstDir is a destination directory open for reading its entries, and its
// fstat; fd is -1 for one that is new (or, in a dry run, missing).
type dstDir struct {
	fd   int
	st   unixStat
	path string
}

// dent is a destination entry: its name and whether it is a directory.
type dent struct {
	name string
	dir  bool
}

// makeDir creates dir (owner-only until its metadata is applied), or
// opens it if it exists: created reports that it is new, hence empty.
// With open, dir is not created but only opened; in a dry run a missing
// dir reads as created. errNotDir is an existing non-directory.
func makeDir(dir string, open, dryRun bool) (d dstDir, created bool, err error) {
	d.fd = -1
	if !open {
		err = unix.Mkdir(dir, 0o700)
		if err == nil {
			return d, true, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return d, false, pathError("mkdir", dir, err)
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP):
		return d, false, errNotDir
	case errors.Is(err, unix.ENOENT) && dryRun:
		return d, true, nil
	case err != nil:
		return d, false, pathError("open", dir, err)
	}
	d.fd, d.path = fd, dir
	if err := unix.Fstat(fd, (*unix.Stat_t)(unsafe.Pointer(&d.st))); err != nil {
		d.close()
		return d, false, pathError("stat", dir, err)
	}
	return d, false, nil
}

// openDstPath opens the existing destination directory dir.
func openDstPath(dir string) (dstDir, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return dstDir{fd: -1}, err
	}
	return dstDir{fd: fd, path: dir}, nil
}

// openSub opens the directory name in d, not following a symlink.
func (d dstDir) openSub(name string) (dstDir, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return dstDir{fd: -1}, err
	}
	return dstDir{fd: fd, path: joinPath(d.path, name)}, nil
}

func (d dstDir) close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
	}
}

func (d dstDir) chmod(mode uint32) error { return unix.Fchmod(d.fd, mode) }

// unlink removes the entry name.
func (d dstDir) unlink(name string, isDir bool) error {
	flags := 0
	if isDir {
		flags = unix.AT_REMOVEDIR
	}
	return unix.Unlinkat(d.fd, name, flags)
}

// lstatDst lstats j's destination, by name in its open directory when
// there is one.
func (c *copier) lstatDst(j job, st *unixStat) error {
	if j.dstDir >= 0 {
		return unwrapErrno(lstatInto(j.dstDir, lastElem(j.dst), st))
	}
	return unix.Lstat(j.dst, (*unix.Stat_t)(unsafe.Pointer(st)))
}

// lastElem is the last element of the path p.
func lastElem(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// File types, as fileType gives them.
const (
	typeReg     = unix.S_IFREG
	typeDir     = unix.S_IFDIR
	typeSymlink = unix.S_IFLNK
)

func fileType(st *unixStat) uint32 { return uint32(st.Mode) & unix.S_IFMT }

// ctimeAfter reports whether a's inode changed after b's, or in the same
// tick of the kernel's coarse clock, which stamps ctimes: two changes a
// few milliseconds apart can share one.
func ctimeAfter(a, b *unixStat) bool {
	ca, cb := ctim(a), ctim(b)
	return ca.Sec > cb.Sec || ca.Sec == cb.Sec && ca.Nsec >= cb.Nsec
}

// fchmodat is unix.Fchmodat; tests make it fail as on a kernel without
// fchmodat2.
var fchmodat = unix.Fchmodat

// errSymlink is a symlink where the copy has a file or directory whose
// mode is to be set: put there since the copy looked (by someone else,
// during the copy). It is not followed.
var errSymlink = errors.New("replaced by a symlink during the copy: not followed")

// chmodNoFollow sets the mode of p, never through a symlink: chmod(2)
// follows one, and a name of the copy swapped for a symlink to a file
// outside it would give that file the source's mode.
func chmodNoFollow(p string, mode uint32) error {
	err := fchmodat(unix.AT_FDCWD, p, mode, unix.AT_SYMLINK_NOFOLLOW)
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	// A symlink, or a kernel without fchmodat2 (Linux before 6.6): set
	// the mode of what an open that follows no symlink finds, by its
	// /proc name, which leads to that very inode.
	fd, err := unix.Open(p, pathFlag|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return errSymlink
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return errSymlink
	}
	if err := unix.Fchmod(fd, mode); err == nil || !errors.Is(err, unix.EBADF) {
		return err
	}
	return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode) // an O_PATH descriptor
}

// rename renames old to new; unix.Rename, not os.Rename, which lstats
// the new name first.
func rename(old, new string) error { return unix.Rename(old, new) }

func rmdir(p string) error { return unix.Rmdir(p) }

func isDirError(err error) bool { return errors.Is(err, unix.EISDIR) }

func isNotEmpty(err error) bool { return errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) }

func isENOSPC(err error) bool { return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) }

func mknod(p string, fi fs.FileInfo) error {
	st := fi.Sys().(*unixStat)
	return mknodMode(p, uint32(st.Mode), uint64(st.Rdev))
}

// syncDir makes the entries of the directory open as fd (named dir)
// durable.
func (c *copier) syncDir(fd int, dir string) {
	// An O_PATH descriptor cannot be synced: open the directory itself.
	if err := c.syncPath(dir); err != nil {
		c.fail(err)
	}
}

// syncPath fsyncs the file or directory p.
func (c *copier) syncPath(p string) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return pathError("open for fsync", p, err)
	}
	defer unix.Close(fd)
	fsyncs.Add(1)
	if onFsync != nil {
		onFsync(p)
	}
	if err := unix.Fsync(fd); err != nil {
		return pathError("fsync", p, err)
	}
	return nil
}

var _ = os.Remove
