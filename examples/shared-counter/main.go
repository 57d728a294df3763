// Shared-counter shows the tutorials' race — many threads doing
// counter += 1 on a global — and the two Go fixes: an atomic counter, and
// one goroutine that owns the counter and receives increments on a channel
// (the tutorials' queue-fed counter thread). Run it with the race detector
// to see the bug reported with both stacks:
//
//	go run -race ./examples/shared-counter -racy
package main

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
)

const workers, increments = 10, 200_000

func main() {
	racy := flag.Bool("racy", false, "also run the unsynchronised version, which loses increments")
	flag.Parse()

	if *racy {
		counter := 0
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range increments {
					counter++ // read, add, write: two goroutines can read the same value
				}
			})
		}
		wg.Wait()
		fmt.Printf("unsynchronised: %d (want %d)\n", counter, workers*increments)
	}

	var atomicCounter atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range increments {
				atomicCounter.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Printf("atomic: %d\n", atomicCounter.Load())

	// Share memory by communicating: one goroutine owns the counter.
	incs := make(chan int)
	total := make(chan int)
	go func() {
		n := 0
		for d := range incs {
			n += d
		}
		total <- n
	}()
	for range workers {
		wg.Go(func() {
			for range increments {
				incs <- 1
			}
		})
	}
	wg.Wait()
	close(incs)
	fmt.Printf("channel: %d\n", <-total)
}
