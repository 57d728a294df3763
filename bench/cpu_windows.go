//go:build windows

package bench

import (
	"syscall"
	"time"
)

// cpuTime returns the user+system CPU time of this process. Windows keeps
// no total for a process's ended children, so the CPU of worker processes
// and of Python is not counted: their "cores" figures read low.
func cpuTime() time.Duration {
	var creation, exit, kernel, user syscall.Filetime
	h, err := syscall.GetCurrentProcess()
	if err != nil || syscall.GetProcessTimes(h, &creation, &exit, &kernel, &user) != nil {
		return 0
	}
	return filetime(kernel) + filetime(user)
}

// filetime reads a FILETIME holding a duration, in 100 ns units
// (Filetime.Nanoseconds is for dates: it subtracts the epoch).
func filetime(ft syscall.Filetime) time.Duration {
	return time.Duration(int64(ft.HighDateTime)<<32|int64(ft.LowDateTime)) * 100
}

// childrenCounted says whether cpuTime includes children's CPU.
const childrenCounted = false
