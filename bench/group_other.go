//go:build !unix

package bench

import "os/exec"

// ownGroup does nothing here: there are no process groups to kill at once.
func ownGroup(*exec.Cmd) {}

// killGroup kills cmd's process; the processes it started (Python's pool
// workers) are left to notice that their parent is gone.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}
