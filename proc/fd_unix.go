//go:build unix

package proc

import (
	"os"
	"syscall"
)

// protocolFile opens one of a worker's protocol descriptors in
// non-blocking mode, so that the Go runtime waits for it in its network
// poller. A goroutine blocked in a plain read(2) instead holds a thread
// in a system call, and the runtime's monitor then wakes up every 20 µs
// to take its processor back — thousands of wake-ups a second that steal
// CPU from the tasks on a machine whose cores are all busy.
func protocolFile(fd uintptr, name string) *os.File {
	_ = syscall.SetNonblock(int(fd), true) // on failure the file still works, blocking
	return os.NewFile(fd, name)
}
