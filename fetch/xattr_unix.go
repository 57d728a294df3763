//go:build linux || darwin

package fetch

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

func attrName() string {
	if runtime.GOOS == "linux" {
		return "user." + validatorsAttr
	}
	return validatorsAttr
}

func setAttr(f *os.File, b []byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) { serr = unix.Fsetxattr(int(fd), attrName(), b, 0) })
	if err != nil {
		return err
	}
	return serr
}

func getAttr(f *os.File) ([]byte, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false
	}
	buf := make([]byte, 4096)
	n := -1
	rc.Control(func(fd uintptr) {
		if m, err := unix.Fgetxattr(int(fd), attrName(), buf); err == nil {
			n = m
		}
	})
	if n < 0 {
		return nil, false
	}
	return buf[:n], true
}
