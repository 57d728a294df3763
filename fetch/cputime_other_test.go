//go:build !unix

package fetch_test

import "time"

// cpuTime is -1 where the process's CPU time is not read.
func cpuTime() time.Duration { return -1 }
