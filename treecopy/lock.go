//go:build linux || darwin || freebsd

package treecopy

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lock makes the tree's destination directory if missing and takes an
// exclusive flock on it for the length of the copy, so that two copies
// into one destination do not remove each other's temp files or race to
// make the same entries: the second is refused, naming the first.
func (r *rootDir) lock() error {
	dst := r.dir.dst
	err := unix.Mkdir(dst, 0o700)
	switch {
	case err == nil:
		r.dir.created = true
	case !errors.Is(err, unix.EEXIST):
		return pathError("mkdir", dst, err)
	}
	fd, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathError("open", dst, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := lockHolder(fd)
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s is being copied into by %s; not started", ErrBusy, Quote(dst), holder)
		}
		return pathError("lock", dst, err)
	}
	r.lockFD = fd
	return nil
}

func (r *rootDir) unlock() {
	if r.lockFD >= 0 {
		unix.Close(r.lockFD)
		r.lockFD = -1
	}
}

// lockHolder names the process holding a flock on the file open as fd,
// from /proc/locks: "process PID (command line)".
func lockHolder(fd int) string {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return "another process"
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return "another process"
	}
	defer f.Close()
	// "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != want {
			continue
		}
		if _, err := strconv.Atoi(fields[4]); err != nil {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + fields[4] + "/cmdline")
		if args := strings.TrimRight(strings.ReplaceAll(string(cmd), "\x00", " "), " "); args != "" {
			return "process " + fields[4] + " (" + args + ")"
		}
		return "process " + fields[4]
	}
	return "another process"
}
