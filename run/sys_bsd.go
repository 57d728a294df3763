//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package run

import "golang.org/x/sys/unix"

// commandLineLimit is what the arguments and environment of an exec may
// take (kern.argmax), less room for a small environment.
func commandLineLimit() int {
	n, err := unix.SysctlUint32("kern.argmax")
	if err != nil || n < 4096 {
		return 262144 - 2048
	}
	return int(n) - 2048
}
