package bench

import (
	"runtime"
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

// yieldEvery is how often an unsynchronised increment lets the scheduler
// run another goroutine between reading the counter and writing it back.
// Goroutines running on two cores at once lose increments without it; on a
// busy machine, or one core, they take turns and lose few or none. The
// yield is the thread switch the tutorial's sleeps provoke, made certain,
// so that the lesson shows on every machine.
const yieldEvery = 1000

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
			for i := range counterIncrements {
				racyIncrement(&n, i%yieldEvery == 0)
			}
		})
	}
	close(start)
	wg.Wait()
	return n
}

// racyIncrement reads *n, maybe yields, and writes it back plus one. It is
// a separate function so that the compiler keeps each load and store
// instead of folding the loop into one addition.
//
//go:noinline
func racyIncrement(n *int, yield bool) {
	v := *n
	if yield {
		runtime.Gosched()
	}
	*n = v + 1
}

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
