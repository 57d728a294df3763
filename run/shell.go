package run

import (
	"os"
	"os/exec"
	"path/filepath"
)

// knownShells are the shells crew runs command lines with: those that
// read POSIX quoting, which is how crew (like GNU parallel for all but
// csh and rc) quotes arguments.
var knownShells = map[string]bool{
	"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "ksh93": true, "mksh": true,
	"lksh": true, "pdksh": true, "posh": true, "yash": true, "zsh": true, "rbash": true, "busybox": true,
}

func lookPathOnce(name string) (string, error) { return exec.LookPath(name) }

// DefaultShell is the shell GNU parallel would run jobs with: the one in
// $PARALLEL_SHELL, else the shell crew was started from, else $SHELL,
// else /bin/sh. Shells that do not read POSIX quoting (csh, tcsh, fish,
// rc) are passed over: crew quotes arguments for POSIX shells only.
func DefaultShell() string {
	if s := os.Getenv("PARALLEL_SHELL"); s != "" {
		return s
	}
	if s := parentShell(); s != "" {
		return s
	}
	if s := os.Getenv("SHELL"); s != "" && knownShells[filepath.Base(s)] {
		if _, err := os.Stat(s); err == nil {
			return s
		}
	}
	return defaultShell
}
