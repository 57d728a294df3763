//go:build !linux && !windows

package run

import (
	"errors"
	"runtime"
	"sync"
)

func niceness(raw int) int { return raw }

func limitsSupported() error {
	return errors.New("--load and --memfree are supported on Linux only")
}

func runningProcesses() (int, error) { return 0, limitsSupported() }
func freeMemory() (int64, error)     { return 0, limitsSupported() }

// CPUs counts CPUs as GNU parallel's --number-of-* print them; here all
// three are the CPUs this process may use.
var CPUs = sync.OnceValue(func() CPUCount {
	n := runtime.NumCPU()
	return CPUCount{n, n, n}
})

// parentShell is not looked for here: jobs run with $SHELL or /bin/sh.
func parentShell() string { return "" }
