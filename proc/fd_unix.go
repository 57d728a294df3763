//go:build unix

package proc

import (
	"os"
	"os/exec"
	"syscall"
)

// protocolFile opens one of a worker's protocol descriptors in
// non-blocking mode, so that the Go runtime waits for it in its network
// poller. A goroutine blocked in a plain read(2) instead holds a thread
// in a system call, and the runtime's monitor then wakes up every 20 µs
// to take its processor back — thousands of wake-ups a second that steal
// CPU from the tasks on a machine whose cores are all busy.
//
// The descriptor is also closed on exec: the pool passed it without that
// flag, and a program a task starts would otherwise inherit the pipe —
// free to write into the protocol, and keeping the pipe open after the
// worker dies, so that the pool sees no end of the worker until that
// program exits.
func protocolFile(fd uintptr, name string) *os.File {
	_ = syscall.SetNonblock(int(fd), true) // on failure the file still works, blocking
	syscall.CloseOnExec(int(fd))
	return os.NewFile(fd, name)
}

// supported reports why this system cannot run worker processes: nil on
// Unix.
func supported() error { return nil }

func startCommand(cmd *exec.Cmd) error { return cmd.Start() }
