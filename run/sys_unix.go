//go:build !windows

package run

import (
	"os"
	"os/exec"
	"syscall"
)

// Each job runs in a process group of its own, so that a timeout, --halt
// now or an interruption ends everything it started.

func newProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killProcessGroup(pid int, _ *os.Process, sig syscall.Signal) { syscall.Kill(-pid, sig) }

// signalOf is the signal that ended a process, if one did.
func signalOf(ee *exec.ExitError) (int, bool) {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int(ws.Signal()), true
	}
	return 0, false
}

// defaultShell runs the command lines that need a shell.
const defaultShell = "/bin/sh"

// shellPath is the shell for command lines that need one.
func (r *runner) shellPath() (string, error) { return r.shell, nil }

// niceBy is how much nice(1) raises a job's niceness for --nice: the
// difference to this process's, if --nice is higher (a lower niceness
// needs privileges GNU parallel does not use either).
func (r *runner) niceBy() int {
	if r.o.Nice == 0 {
		return 0
	}
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return 0
	}
	return r.o.Nice - niceness(cur)
}

var signalByName = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "ALRM": syscall.SIGALRM,
	"ABRT": syscall.SIGABRT, "PIPE": syscall.SIGPIPE, "STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT,
}
