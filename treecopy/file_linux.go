package treecopy

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// copyUnnamed copies src to dst, which must not exist, through a file
// without a name (O_TMPFILE) that is linked in as dst once complete: no
// temporary name to create and rename, and nothing left behind if the
// process dies. It returns errNoTmpfile, having done nothing, where the
// file system or the kernel cannot do that.
func (c *copier) copyUnnamed(j job) (n int64, err error) {
	if !tmpfile || c.noTmpfile.Load() {
		return 0, errNoTmpfile
	}
	dst := j.dst
	dir, name := at(j.dstDir, dst)
	tdir, tpath := dir, "."
	if j.dstDir < 0 {
		tpath = filepath.Dir(dst)
	}
	// Nobody sees the file before it is linked in: it can have its
	// final mode from the start, saving a chmod, when the umask keeps it.
	j.madeMode = createMode(uint32(j.fi.Sys().(*unixStat).Mode), j.inheritsACL)
	out, err := unix.Openat(tdir, tpath, unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, j.madeMode)
	if err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
			c.noTmpfile.Store(true)
			return 0, errNoTmpfile
		}
		return 0, pathError("create", dst, err)
	}
	defer func() {
		if cerr := unix.Close(out); err == nil && cerr != nil {
			err = pathError("close", dst, cerr)
		}
	}()
	if n, err = c.copyInto(j, out, dst, ""); err != nil {
		return n, err
	}
	// Linking a descriptor needs CAP_DAC_READ_SEARCH; its /proc name does not.
	if c.root && emptyPath && !c.noEmptyPath.Load() {
		err = unix.Linkat(out, "", dir, name, unix.AT_EMPTY_PATH)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EPERM) {
			return n, pathError("link into place", dst, err)
		}
		c.noEmptyPath.Store(true)
	}
	if err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(out), dir, name, unix.AT_SYMLINK_FOLLOW); err != nil {
		if _, perr := os.Stat("/proc/self/fd"); errors.Is(err, unix.ENOENT) && perr != nil { // no /proc
			c.noTmpfile.Store(true)
			return 0, errNoTmpfile
		}
		return n, pathError("link into place", dst, err)
	}
	return n, nil
}

// tmpfile and emptyPath are false only in tests of the other paths.
var tmpfile, emptyPath = true, true

// copyRange copies n bytes at off with copy_file_range, falling back to
// pread/pwrite where the kernel or file systems do not support it.
func copyRange(in, out int, off, n int64) (int64, error) {
	var done int64
	for done < n {
		ioff, ooff := off+done, off+done
		m, err := unix.CopyFileRange(in, &ioff, out, &ooff, int(min(n-done, 1<<30)), 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
				k, err := copyPread(in, out, off+done, n-done)
				return done + k, err
			}
			return done, err
		}
		if m == 0 {
			// The end of the file before its size: it shrank — or it is a
			// kernel file (sysfs, procfs) that copy_file_range cannot
			// read. read(2) tells them apart.
			k, err := copyPread(in, out, off+done, n-done)
			return done + k, err
		}
		done += int64(m)
	}
	return done, nil
}

// futimens sets the times of the open file fd: utimensat with a NULL path
// acts on the descriptor.
func futimens(fd int, _ string, ts *[2]unix.Timespec) error {
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); e != 0 {
		return e
	}
	return nil
}
