//go:build !unix

package proc

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// errUnsupported is New's error where workers cannot be started: they
// receive the protocol pipes as descriptors 3 and 4, which only Unix
// passes to a child (exec.Cmd.ExtraFiles).
var errUnsupported = errors.New("proc: worker processes need Unix (macOS, Linux, the BSDs): they receive their pipes as descriptors 3 and 4, which " + runtime.GOOS + " cannot pass; use crew.Goroutines or package cluster here")

// supported reports why this system cannot run worker processes.
func supported() error { return errUnsupported }

func startCommand(*exec.Cmd) error { return errUnsupported }

func sysProcAttr() *syscall.SysProcAttr { return nil }

// stdoutToStderr does nothing: there is no worker to redirect.
func stdoutToStderr() {}

// protocolFile opens one of a worker's protocol descriptors.
func protocolFile(fd uintptr, name string) *os.File { return os.NewFile(fd, name) }
