package cluster_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

// A job's counts and failures, as the live view (crew serve --ui), crew
// jobs and crew top show them.
func ExampleObserve() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- cluster.Serve(ctx, cluster.ServerConfig{Listen: "127.0.0.1:0", Ready: func(url string) { ready <- url }})
	}()
	url := <-ready
	worked := make(chan error, 1)
	go func() { worked <- cluster.Work(ctx, url, crew.Workers(2)) }()

	ex, err := cluster.New(ctx, url, cluster.Label("halves"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for n := range 4 {
		crew.Submit(ctx, ex, crewtest.Half, n).Wait(ctx)
	}
	ex.Close() // writes the job's last record

	o, err := cluster.Observe(ctx, url)
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := o.State(ctx)
	o.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, j := range st.Jobs {
		fmt.Printf("%s %s: %d done, %d failed\n", j.Label, j.State, j.Done, j.Failed)
		for _, f := range j.Failures {
			fmt.Printf("  %s: %s\n", f.Task, f.Error)
		}
	}
	stop()
	<-worked
	<-served
	// Output:
	// halves finished: 2 done, 2 failed
	//   crewtest.half: 3 is odd
	//   crewtest.half: 1 is odd
}

// A worker that drains on the first SIGINT or SIGTERM — it stops
// fetching, hands the tasks it fetched back, lets the running ones finish
// — and stops at once on the second, as crew worker does.
func ExampleSignals() {
	ctx, now, release := cluster.Signals(context.Background())
	defer release()
	if err := cluster.Work(ctx, os.Getenv("CREW_SERVER"), now, cluster.DrainTimeout(time.Minute)); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}
