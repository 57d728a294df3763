//go:build freebsd

package fetch

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

func fsetAttr(fd int, b []byte) error {
	_, err := unix.ExtattrSetFd(fd, unix.EXTATTR_NAMESPACE_USER, validatorsAttr, uintptr(unsafe.Pointer(&b[0])), len(b))
	return err
}

func fgetAttr(fd int, buf []byte) (int, error) {
	return unix.ExtattrGetFd(fd, unix.EXTATTR_NAMESPACE_USER, validatorsAttr, uintptr(unsafe.Pointer(&buf[0])), len(buf))
}
