//go:build linux || darwin || freebsd

package fetch

import "os"

// setAttr stores b as the file's validators attribute.
func setAttr(f *os.File, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = fsetAttr(int(fd), b) }); err != nil {
		return err
	}
	return serr
}

// getAttr reads the file's validators attribute.
func getAttr(f *os.File) ([]byte, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false
	}
	buf := make([]byte, 4096)
	n := -1
	rc.Control(func(fd uintptr) {
		if m, err := fgetAttr(int(fd), buf); err == nil {
			n = m
		}
	})
	if n < 0 {
		return nil, false
	}
	return buf[:n], true
}
