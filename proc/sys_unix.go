//go:build unix && !linux

package proc

import "syscall"

// sysProcAttr is nil where there is no parent-death signal: workers then
// exit when they read EOF on the request pipe.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// stdoutToStderr points fd 1 at fd 2 in a worker.
func stdoutToStderr() { _ = syscall.Dup2(2, 1) }
