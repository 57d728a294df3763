// Command crew runs many tasks at once: shell jobs, downloads, crawls, tree
// copies and CPU-bound work, on goroutines, OS processes or a cluster.
//
// All command code lives in internal/cli; this file only wires the process
// to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/crewrun/crew/bench"
	"github.com/crewrun/crew/internal/cli"
	"github.com/crewrun/crew/proc"
)

func main() {
	proc.ServeIfWorker() // in a worker process this serves tasks and never returns
	bench.ServeIfChild() // in crew bench's child this runs its batch and exits
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.StdStreams())
	stop()
	os.Exit(code)
}
