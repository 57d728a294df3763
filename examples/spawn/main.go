// Spawn starts five workers with arguments and waits for all of them: the
// tutorials' Process(target=spawn, args=(i,)) + start() + join(), as crew
// tasks. Each Submit returns a Future; Wait is join() that also hands back
// the result or the error.
package main

import (
	"context"
	"fmt"

	"github.com/crewrun/crew"
)

type spawnArgs struct {
	Num, Num2 int
}

var spawn = crew.Register("examples.spawn", func(_ context.Context, a spawnArgs) (string, error) {
	return fmt.Sprintf("spawned #%d with %d", a.Num, a.Num2), nil
})

func main() {
	ctx := context.Background()
	ex := crew.Goroutines()
	defer ex.Close()

	var started []*crew.Future[string]
	for i := range 5 {
		started = append(started, crew.Submit(ctx, ex, spawn, spawnArgs{i, i * 10}))
	}
	for _, f := range started { // join, in start order
		msg, err := f.Wait(ctx)
		if err != nil {
			fmt.Println("failed:", err)
			continue
		}
		fmt.Println(msg)
	}
}
