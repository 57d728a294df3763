// Cpu-count prints how many CPUs Go sees and how many goroutines run Go
// code at once (GOMAXPROCS): multiprocessing.cpu_count() and, since Go has
// no GIL, the number of CPU-bound tasks that really run in parallel —
// which is why crew's default worker count is runtime.NumCPU().
package main

import (
	"fmt"
	"runtime"
)

func main() {
	fmt.Println("CPUs:", runtime.NumCPU())
	fmt.Println("GOMAXPROCS:", runtime.GOMAXPROCS(0))
}
