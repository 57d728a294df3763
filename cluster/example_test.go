package cluster_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
)

var triple = crew.Register("example.triple", func(_ context.Context, n int) (int, error) {
	return 3 * n, nil
})

// "embedded" runs an in-process server and crew.Workers(n) workers:
// nothing to set up, the same code as against a real cluster.
func ExampleNew() {
	ctx := context.Background()
	ex, err := cluster.New(ctx, "embedded", crew.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ex.Close()

	for r := range crew.Map(ctx, ex, triple, slices.Values([]int{1, 2, 3})) {
		fmt.Println(r.Index, r.Value, r.Err)
	}
	// Output:
	// 0 3 <nil>
	// 1 6 <nil>
	// 2 9 <nil>
}

// Across machines, a server (crew serve), workers that registered the
// task — this program's binary, calling Work — and executors that point at
// the server. Here all three run in this process on a loopback port.
func ExampleWork() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- cluster.Serve(ctx, cluster.ServerConfig{Listen: "127.0.0.1:0", Ready: func(url string) { urls <- url }})
	}()
	url := <-urls
	worked := make(chan error, 1)
	go func() { worked <- cluster.Work(ctx, url, crew.Workers(2)) }()

	ex, err := cluster.New(ctx, url)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := crew.Submit(ctx, ex, triple, 14).Wait(ctx)
	fmt.Println(n, err)
	ex.Close()
	cancel()
	fmt.Println(<-worked, <-served)
	// Output:
	// 42 <nil>
	// <nil> <nil>
}
