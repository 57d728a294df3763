package treecopy

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

type unixStat = syscall.Stat_t

func statAtime(st *unixStat) int64 { return st.Atim.Nano() }

// batchDirs holds a batch's source and destination directories open with
// O_PATH, so that each entry is looked up by its name alone: a full path
// costs a dcache lookup per component, which dominated a rerun over an
// unchanged tree.
type batchDirs struct{ src, dst int }

// openDirs opens j's directories; a descriptor that does not open is -1,
// and lookups then take the full path.
func openDirs(j job) batchDirs {
	open := func(dir string) int {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1
		}
		return fd
	}
	d := batchDirs{src: open(filepath.Dir(j.src)), dst: -1}
	if !j.fresh { // in a new directory nothing is looked up
		d.dst = open(filepath.Dir(j.dst))
	}
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
	// unix.Stat_t and syscall.Stat_t both mirror the kernel's struct stat.
	if err := unix.Fstatat(dir, name, (*unix.Stat_t)(unsafe.Pointer(&fi.st)), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return fi, nil
}

// fileInfo is an fs.FileInfo from a stat, as os builds it.
type fileInfo struct {
	name string
	st   unixStat
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.st.Size }
func (fi *fileInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
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
