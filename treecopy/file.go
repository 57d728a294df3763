//go:build linux || darwin || freebsd

package treecopy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// copyFile writes src's content and metadata to a new file under a temp
// name beside j.dst, returned, through raw file descriptors: no os.File
// (whose poller registration and flag probing cost more system calls than
// copying a small file), metadata set on the open file rather than by
// path. Only data extents are copied (SEEK_DATA/SEEK_HOLE), so sparse
// files stay sparse; each extent goes through copy_file_range, which the
// kernel may turn into a reflink. Errors name j.dst, never the temp name.
func (c *copier) copyFile(j job) (tmp string, n int64, err error) {
	out := -1
	j.madeMode = 0o600
	tmp, err = withTempName(j.dst, func(tmp string) (err error) {
		out, err = unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, j.madeMode)
		return err
	})
	if err != nil {
		return "", 0, pathError("create", j.dst, err)
	}
	n, err = c.copyInto(j, out, j.dst, tmp)
	if cerr := unix.Close(out); err == nil && cerr != nil {
		err = pathError("close", j.dst, cerr)
	}
	if err != nil {
		unix.Unlink(tmp)
		return "", n, err
	}
	return tmp, n, nil
}

// copyInto copies the content and metadata of j's source into out, a new
// file named name in errors. The source may have changed since the walk
// looked at it: what is copied, size and metadata alike, is what the open
// file holds, and a source that shrinks while being copied fails with
// errChanged rather than leaving a copy padded with zeros.
func (c *copier) copyInto(j job, out int, name, path string) (n int64, err error) {
	src := j.src
	var in int
	var st unixStat
	if j.opened {
		in, st = j.srcFD, *j.fi.Sys().(*unixStat)
	} else {
		sdir, sname := at(j.srcDir, src)
		in, err = unix.Openat(sdir, sname, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return 0, sourceError("open", src, err)
		}
		defer unix.Close(in)
		if err := unix.Fstat(in, (*unix.Stat_t)(unsafe.Pointer(&st))); err != nil {
			return 0, sourceError("stat", src, err)
		}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, pathError("copy", src, fmt.Errorf("%w (no longer a regular file)", errChanged))
	}
	size := st.Size
	if size < 64<<10 {
		// Small files: holes are unlikely and the two lseeks cost more
		// than the copy.
		n, err = copyRange(in, out, 0, size)
	} else {
		n, err = copyExtents(in, out, size)
	}
	short := false
	if errors.Is(err, errChanged) && unchangedSince(in, &st) {
		// Less content than the size the file reports, which has not
		// changed: a sysfs file (4096 bytes, a few of them real). Keep
		// what it holds, as cp does.
		err, short = nil, true
	}
	if err == nil && n != size && !short {
		err = unix.Ftruncate(out, size) // trailing hole
	}
	if err != nil {
		if errors.Is(err, errChanged) {
			return n, pathError("copy", src, err)
		}
		return n, pathError("write", name, err)
	}
	if err := c.fileMeta(in, out, src, name, path, &st, j.inheritsACL, j.ownGroup, j.madeMode); err != nil {
		return n, err
	}
	if c.opts.Fsync {
		fsyncs.Add(1)
		if err := unix.Fsync(out); err != nil {
			return n, pathError("fsync", name, err)
		}
	}
	return n, nil
}

// unchangedSince reports whether the open file in still has st's size and mtime.
func unchangedSince(in int, st *unixStat) bool {
	var now unixStat
	return unix.Fstat(in, (*unix.Stat_t)(unsafe.Pointer(&now))) == nil && now.Size == st.Size && mtim(&now) == mtim(st)
}

// umask is the process's file mode creation mask, or 0o777 where it
// could not be read without changing it.
var umask = readUmask()

// createMode is the mode to create the copy of a file of mode m with: m's
// permissions when the umask leaves them whole and no ACL is inherited,
// so that no chmod is needed after; 0600 otherwise (and for setuid,
// setgid and sticky files, whose bits a chown would clear).
func createMode(m uint32, inheritsACL bool) uint32 {
	if inheritsACL || m&0o7000 != 0 || m&0o777&umask != 0 {
		return 0o600
	}
	return m & 0o777
}

// errNoTmpfile is a system or file system without O_TMPFILE.
var errNoTmpfile = errors.New("treecopy: no O_TMPFILE here")

// errChanged is a source file that changed while it was being copied.
var errChanged = errors.New("file changed during copy")

func copyExtents(in, out int, size int64) (int64, error) {
	var total int64
	off := int64(0)
	for off < size {
		data, err := unix.Seek(in, off, unix.SEEK_DATA)
		if err != nil {
			if errors.Is(err, unix.ENXIO) {
				// No data after off: a trailing hole, unless the file
				// shrank to end before the size it had.
				if end, err := unix.Seek(in, 0, io.SeekEnd); err == nil && end < size {
					return total, errChanged
				}
				return total, nil
			}
			// No SEEK_DATA support: treat the rest as one extent.
			data = off
		}
		hole, err := unix.Seek(in, data, unix.SEEK_HOLE)
		if err != nil {
			hole = size
		}
		n, err := copyRange(in, out, data, hole-data)
		total += n
		if err != nil {
			return total, err
		}
		off = hole
	}
	return total, nil
}

// copyPread copies n bytes at off with pread and pwrite. A pwrite may
// write less than it was given (a file system filling up writes what fits,
// and only the next call fails with ENOSPC), so each buffer is written
// until all of it is.
func copyPread(in, out int, off, n int64) (int64, error) {
	buf := make([]byte, min(n, 1<<20))
	var done int64
	for done < n {
		k, err := unix.Pread(in, buf[:min(int64(len(buf)), n-done)], off+done)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return done, err
		}
		if k == 0 {
			return done, errChanged
		}
		for w := 0; w < k; {
			m, err := unix.Pwrite(out, buf[w:k], off+done)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err == nil && m == 0 {
				err = io.ErrShortWrite
			}
			if err != nil {
				return done, err
			}
			w += m
			done += int64(m)
		}
	}
	return done, nil
}

// fileMeta gives the open file out the ownership (when root), xattrs, mode
// and nanosecond times of in, whose fstat is st, in that order because
// chown clears setuid bits; it does what meta does for other entries,
// without path lookups. inheritsACL is as for copyFdXattrs.
func (c *copier) fileMeta(in, out int, src, name, path string, st *unixStat, inheritsACL, ownGroup bool, madeMode uint32) error {
	if c.root && !(ownGroup && int(st.Uid) == euid && int(st.Gid) == egid) {
		// A new file is ours, but its group is its directory's when that
		// is setgid (or mounted with grpid): ask the file, not the
		// source's ids compared with ours.
		var ost unix.Stat_t
		if err := unix.Fstat(out, &ost); err != nil {
			return pathError("stat", name, err)
		}
		if ost.Uid != st.Uid || ost.Gid != st.Gid {
			if err := unix.Fchown(out, int(st.Uid), int(st.Gid)); err != nil {
				return pathError("chown", name, err)
			}
		}
	}
	if err := copyFdXattrs(in, out, src, name, inheritsACL); err != nil {
		return err
	}
	if mode := uint32(st.Mode) & 07777; mode != madeMode {
		if err := unix.Fchmod(out, mode); err != nil {
			return pathError("chmod", name, err)
		}
	}
	ts := times(st)
	if err := futimens(out, path, &ts); err != nil {
		return pathError("set times", name, err)
	}
	return nil
}

// copyFdXattrs copies the extended attributes of in to out. inheritsACL
// says that out's directory has a default ACL, which gave out an access
// ACL: removed unless the source has one too (which replaced it).
func copyFdXattrs(in, out int, src, dst string, inheritsACL bool) error {
	// Most files have no extended attributes: find that out without the
	// general path's allocations.
	var probe [256]byte
	if n, err := unix.Flistxattr(in, probe[:]); err == nil && n == 0 || errors.Is(err, unix.ENOTSUP) {
		if inheritsACL {
			return removeACL(out, dst)
		}
		return nil
	}
	names, err := xattrs{
		src: src, dst: dst,
		list: func(b []byte) (int, error) { return unix.Flistxattr(in, b) },
		get:  func(a string, b []byte) (int, error) { return unix.Fgetxattr(in, a, b) },
		set:  func(a string, b []byte) error { return unix.Fsetxattr(out, a, b, 0) },
	}.copy()
	if err == nil && inheritsACL && !slices.Contains(names, aclAccess) {
		err = removeACL(out, dst)
	}
	return err
}

// removeACL removes the access ACL of the open file out, named dst.
func removeACL(out int, dst string) error {
	if err := unix.Fremovexattr(out, aclAccess); err != nil && !errors.Is(err, errNoAttr) && !errors.Is(err, unix.ENOTSUP) {
		return pathError("removexattr "+aclAccess, dst, err)
	}
	return nil
}

// openSource opens the regular file name in the directory open as dir and
// returns its fstat; nil, having opened nothing, if that fails or it is
// no longer a regular file (the lstat path then reports it).
func openSource(dir int, name string) (fs.FileInfo, int, bool) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, -1, false
	}
	fi := &fileInfo{name: name}
	if unix.Fstat(fd, (*unix.Stat_t)(unsafe.Pointer(&fi.st))) != nil || fi.st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, -1, false
	}
	return fi, fd, true
}

// close closes j's source if the worker opened it.
func (j *job) close() {
	if j.opened {
		unix.Close(j.srcFD)
		j.opened = false
	}
}
