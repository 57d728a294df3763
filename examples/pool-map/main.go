// Pool-map applies a function to every element of a list on a pool of
// workers and gets the results back in input order: the tutorials'
// Pool(processes=20).map(job, range(20)). crew.Map streams: it pulls inputs
// only as workers free up, so the input could be endless.
package main

import (
	"context"
	"fmt"

	"github.com/crewrun/crew"
)

var job = crew.Register("examples.job", func(_ context.Context, n int) (int, error) {
	return n * n, nil
})

func main() {
	ctx := context.Background()
	ex := crew.Goroutines(crew.Workers(20))
	defer ex.Close()

	inputs := func(yield func(int) bool) {
		for i := range 20 {
			if !yield(i) {
				return
			}
		}
	}
	var data []int
	for r := range crew.Map(ctx, ex, job, inputs) {
		if r.Err != nil {
			fmt.Println("job", r.Index, "failed:", r.Err)
			continue
		}
		data = append(data, r.Value)
	}
	fmt.Println(data)
}
