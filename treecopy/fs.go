//go:build linux || darwin || freebsd

package treecopy

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

type unixStat = syscall.Stat_t

// times returns st's access and modification times, as utimensat takes
// them. They stay in seconds and nanoseconds: as int64 nanoseconds
// (time.Time.UnixNano) a time past 2262 wraps round to 1901.
func times(st *unixStat) [2]unix.Timespec {
	return [2]unix.Timespec{atim(st), mtim(st)}
}

// sameMtime reports whether a and b were modified at the same nanosecond.
func sameMtime(a, b *unixStat) bool { return mtim(a) == mtim(b) }

// euid and egid are ours: a file we make is owned by them (unless its
// directory is setgid).
var euid, egid = os.Geteuid(), os.Getegid()

// batchDirs holds a batch's source and destination directories open with
// O_PATH, so that each entry is reached by its name alone (see at): a full
// path costs a dcache lookup per component, which dominated a rerun over
// an unchanged tree.
type batchDirs struct {
	src, dst   int
	defaultACL bool // dst has a default ACL (see job.inheritsACL)
	// ownGroup: dst's group is ours, so a file made there is ours, user
	// and group, whether or not dst is setgid (see job.ownGroup).
	ownGroup bool
}

// at returns what the *at system calls need to reach path: the directory
// dir and path's last element when dir is open, else path itself.
func at(dir int, path string) (int, string) {
	if dir < 0 {
		return unix.AT_FDCWD, path
	}
	return dir, filepath.Base(path)
}

// openDirs opens the directories src and dst; a descriptor that does not
// open is -1, and lookups then take the full path.
func openDirs(src, dst string) batchDirs {
	open := func(dir string) int {
		fd, err := unix.Open(dir, pathFlag|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1
		}
		return fd
	}
	d := batchDirs{src: open(src), dst: open(dst), defaultACL: hasDefaultACL(dst)}
	var st unix.Stat_t
	d.ownGroup = d.dst >= 0 && unix.Fstat(d.dst, &st) == nil && int(st.Gid) == egid
	return d
}

// info returns the lstat of j's source.
func (d batchDirs) info(j job) (fs.FileInfo, error) {
	if d.src < 0 {
		return j.d.Info()
	}
	return lstatAt(d.src, j.d.Name())
}

func (d batchDirs) close() {
	for _, fd := range []int{d.src, d.dst} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// lstatAt is os.Lstat of the entry name in the directory open as dir.
func lstatAt(dir int, name string) (fs.FileInfo, error) {
	fi := &fileInfo{name: name}
	if err := lstatInto(dir, name, &fi.st); err != nil {
		return nil, err
	}
	return fi, nil
}

// lstatInto is lstatAt without the fs.FileInfo (and its allocation).
func lstatInto(dir int, name string, st *unixStat) error {
	// unix.Stat_t and syscall.Stat_t both mirror the kernel's struct stat.
	if err := unix.Fstatat(dir, name, (*unix.Stat_t)(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return nil
}

// fileInfo is an fs.FileInfo from a stat, as os builds it.
type fileInfo struct {
	name string
	st   unixStat
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.st.Size }
func (fi *fileInfo) ModTime() time.Time { t := mtim(&fi.st); return time.Unix(t.Unix()) }
func (fi *fileInfo) IsDir() bool        { return fi.Mode().IsDir() }
func (fi *fileInfo) Sys() any           { return &fi.st }

func (fi *fileInfo) Mode() fs.FileMode {
	m := fs.FileMode(fi.st.Mode & 0o777)
	switch fi.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if fi.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if fi.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if fi.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
