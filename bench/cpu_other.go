//go:build !unix && !windows

package bench

import "time"

// cpuTime is unknown here: the "cores" figures read 0.
func cpuTime() time.Duration { return 0 }

// childrenCounted says whether cpuTime includes children's CPU.
const childrenCounted = false
