//go:build freebsd

package fetch

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func setAttr(f *os.File, b []byte) error {
	rc, err := f.SyscallConn()
	if err != nil || len(b) == 0 {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		_, serr = unix.ExtattrSetFd(int(fd), unix.EXTATTR_NAMESPACE_USER, validatorsAttr, uintptr(unsafe.Pointer(&b[0])), len(b))
	})
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
		if m, err := unix.ExtattrGetFd(int(fd), unix.EXTATTR_NAMESPACE_USER, validatorsAttr, uintptr(unsafe.Pointer(&buf[0])), len(buf)); err == nil {
			n = m
		}
	})
	if n < 0 {
		return nil, false
	}
	return buf[:n], true
}
