//go:build !linux && !windows && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package run

// commandLineLimit assumes POSIX's minimum ARG_MAX when the system's is
// not known.
func commandLineLimit() int { return 131072 - 9 }
