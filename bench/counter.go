package bench

import (
	"sync"
	"sync/atomic"
)

const (
	counterGoroutines = 8
	counterIncrements = 100_000
)

// counterModes are the shared-counter variants: the seed's race and two fixes.
var counterModes = []struct {
	mode string
	run  func() int
}{
	{"unsynchronised", racyCount},
	{"atomic", atomicCount},
	{"channel", channelCount},
}

// racyCount increments a plain int from several goroutines: the seeds'
// global counter. Increments are lost; go run -race reports the race.
// Under the race detector it is not run (raceEnabled), since the detector
// would stop the program — which is the lesson.
func racyCount() int {
	var n int
	var wg sync.WaitGroup
	start := make(chan struct{}) // all goroutines count at once, or one may finish before the next starts
	for range counterGoroutines {
		wg.Go(func() {
			<-start
			for range counterIncrements {
				racyIncrement(&n)
			}
		})
	}
	close(start)
	wg.Wait()
	return n
}

// racyIncrement is a separate function so that the compiler keeps each
// load and store instead of folding the loop into one addition.
//
//go:noinline
func racyIncrement(n *int) { *n++ }

func atomicCount() int {
	var n atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range counterGoroutines {
		wg.Go(func() {
			<-start
			for range counterIncrements {
				n.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(n.Load())
}

// channelCount sends the increments to one goroutine that owns the
// counter: the seeds' queue-fed counter thread, in Go.
func channelCount() int {
	incs := make(chan int, 1024)
	done := make(chan int)
	go func() {
		n := 0
		for d := range incs {
			n += d
		}
		done <- n
	}()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range counterGoroutines {
		wg.Go(func() {
			<-start
			for range counterIncrements {
				incs <- 1
			}
		})
	}
	close(start)
	wg.Wait()
	close(incs)
	return <-done
}
