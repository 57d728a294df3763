//go:build linux || darwin

package fetch

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// attrName is the attribute's name: Linux keeps a user's attributes in
// the user namespace, macOS has no namespaces.
func attrName() string {
	if runtime.GOOS == "linux" {
		return "user." + validatorsAttr
	}
	return validatorsAttr
}

func fsetAttr(fd int, b []byte) error { return unix.Fsetxattr(fd, attrName(), b, 0) }

func fgetAttr(fd int, buf []byte) (int, error) { return unix.Fgetxattr(fd, attrName(), buf) }
