//go:build unix

package proc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/proc"
)

// cube is registered at package level, so that the worker processes — this
// program, started again — know it too.
var cube = crew.Register("example.cube", func(_ context.Context, n int) (int, error) {
	return n * n * n, nil
})

// A pool of worker processes runs tasks as goroutines would, with the same
// results and errors. The program's main must call proc.ServeIfWorker()
// first (here the test binary's TestMain does).
func ExampleNew() {
	ctx := context.Background()
	ex, err := proc.New(crew.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ex.Close()

	for r := range crew.Map(ctx, ex, cube, slices.Values([]int{1, 2, 3})) {
		fmt.Println(r.Index, r.Value, r.Err)
	}
	// Output:
	// 0 1 <nil>
	// 1 8 <nil>
	// 2 27 <nil>
}

// crash ends the worker process that runs it.
var crash = crew.Register("example.crash", func(_ context.Context, code int) (int, error) {
	os.Exit(code)
	return 0, nil
})

// A task that kills its worker fails alone, with crew.ErrWorkerDied; the
// pool starts a replacement and goes on.
func ExampleNew_workerDied() {
	ctx := context.Background()
	ex, err := proc.New(crew.Workers(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ex.Close()

	_, err = crew.Submit(ctx, ex, crash, 3).Wait(ctx)
	fmt.Println(errors.Is(err, crew.ErrWorkerDied))
	n, err := crew.Submit(ctx, ex, cube, 4).Wait(ctx)
	fmt.Println(n, err)
	// Output:
	// true
	// 64 <nil>
}
