//go:build windows

package run

import (
	"runtime"
	"sync"
)

var CPUs = sync.OnceValue(func() CPUCount {
	n := runtime.NumCPU()
	return CPUCount{n, n, n}
})

func parentShell() string { return "" }
