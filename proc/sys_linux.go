package proc

import "syscall"

// sysProcAttr has the kernel SIGKILL a worker when the pool's process dies,
// so workers never outlive it even when the request pipe stays open.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// stdoutToStderr points fd 1 at fd 2 in a worker.
func stdoutToStderr() { _ = syscall.Dup3(2, 1, 0) }
