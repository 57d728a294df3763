//go:build unix

package bench

import (
	"syscall"
	"time"
)

// cpuTime returns the user+system CPU time of this process plus that of
// its waited-for children (worker processes, Python).
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

// childrenCounted says whether cpuTime includes children's CPU.
const childrenCounted = true
