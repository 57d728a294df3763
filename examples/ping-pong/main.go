// Ping-pong passes a message back and forth between two workers, as the
// tutorials do with two processes and a Pipe or Queue. In Go the two
// workers are goroutines and the pipe is a pair of channels; a context
// stops both, wherever each is blocked.
package main

import (
	"context"
	"fmt"
	"sync"
)

// player receives a ball, reports it, and sends it back one higher, until
// ctx ends. Every channel operation also waits on ctx, so that no player
// is left blocked when the game stops.
func player(ctx context.Context, name string, in <-chan int, out chan<- int, log chan<- string) {
	for {
		var n int
		select {
		case n = <-in:
		case <-ctx.Done():
			return
		}
		select {
		case log <- fmt.Sprintf("%s got %d", name, n):
		case <-ctx.Done():
			return
		}
		select {
		case out <- n + 1:
		case <-ctx.Done():
			return
		}
	}
}

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	toPing, toPong := make(chan int), make(chan int)
	log := make(chan string)
	var wg sync.WaitGroup
	wg.Go(func() { player(ctx, "ping", toPing, toPong, log) })
	wg.Go(func() { player(ctx, "pong", toPong, toPing, log) })

	toPing <- 0 // serve
	for range 6 {
		fmt.Println(<-log)
	}
	cancel() // game over: both players return
	wg.Wait()
}
