//go:build !unix

package proc

import (
	"os"
	"syscall"
)

// sysProcAttr is nil: workers exit when they read EOF on the request pipe.
// (Passing the protocol descriptors needs ExtraFiles, which only Unix
// supports, so New reports an error when it starts a worker here.)
func sysProcAttr() *syscall.SysProcAttr { return nil }

// stdoutToStderr does nothing: there is no worker to redirect.
func stdoutToStderr() {}

// protocolFile opens one of a worker's protocol descriptors.
func protocolFile(fd uintptr, name string) *os.File { return os.NewFile(fd, name) }
