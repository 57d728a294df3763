//go:build windows

package run

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// Windows has no process groups a job's children join, no signals and no
// POSIX shell: a timeout, --halt now or an interruption ends the job's
// own process only (what it started keeps running), and a command line
// that needs a shell runs with sh from PATH (Git for Windows or MSYS2
// provide one) or fails saying so. --nice, --load and --memfree are
// refused.

func newProcessGroup() *syscall.SysProcAttr { return nil }

func killProcessGroup(_ int, p *os.Process, _ syscall.Signal) {
	if p != nil {
		p.Kill()
	}
}

func signalOf(*exec.ExitError) (int, bool) { return 0, false }

const defaultShell = "sh"

var errNoShell = errors.New("this command line needs a shell (it has |, ;, $ or the like) and no sh is on PATH: crew run quotes for a POSIX shell; install one (Git for Windows has sh) or set PARALLEL_SHELL")

func (r *runner) shellPath() (string, error) {
	p, err := r.lookPath(r.shell)
	if err != nil {
		return "", errNoShell
	}
	return p, nil
}

func (r *runner) niceBy() int { return 0 }

func limitsSupported() error {
	return errors.New("--load and --memfree are not supported on Windows")
}

func runningProcesses() (int, error) { return 0, limitsSupported() }
func freeMemory() (int64, error)     { return 0, limitsSupported() }

// commandLineLimit is CreateProcess's limit on a command line.
func commandLineLimit() int { return 32767 - 9 }

var signalByName = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"TERM": syscall.SIGTERM, "ALRM": syscall.SIGALRM, "ABRT": syscall.SIGABRT, "PIPE": syscall.SIGPIPE,
}
