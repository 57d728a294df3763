// Package peers benchmarks crew's goroutine executor against other Go
// worker pools on the same tiny task (add two ints), submitted and awaited
// b.N times. It has its own go.mod so that the peers never enter crew's
// dependencies. Run: cd bench/peers && go test -bench . -benchmem
package peers

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/alitto/pond/v2"
	"github.com/panjf2000/ants/v2"
	"github.com/sourcegraph/conc/pool"
	"github.com/sourcegraph/conc/stream"
	"golang.org/x/sync/errgroup"

	"github.com/crewrun/crew"
)

func add(a, b int) int { return a + b }

var addTask = crew.Register("bench.add", func(_ context.Context, n int) (int, error) { return add(n, n), nil })

var workers = runtime.NumCPU()

// BenchmarkSubmit submits b.N tasks, each returning a result, then waits
// for all of them and checks the results.
func BenchmarkSubmit(b *testing.B) {
	b.Run("crew", func(b *testing.B) {
		ctx := context.Background()
		ex := crew.Goroutines(crew.Workers(workers))
		defer ex.Close()
		fs := make([]*crew.Future[int], b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range fs {
			fs[i] = crew.Submit(ctx, ex, addTask, i)
		}
		for i, f := range fs {
			if v, err := f.Wait(ctx); err != nil || v != 2*i {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("ants", func(b *testing.B) {
		p, _ := ants.NewPool(workers)
		defer p.Release()
		res := make([]int, b.N)
		var wg sync.WaitGroup
		b.ReportAllocs()
		b.ResetTimer()
		for i := range res {
			wg.Add(1)
			_ = p.Submit(func() { res[i] = add(i, i); wg.Done() })
		}
		wg.Wait()
		check(b, res)
	})
	b.Run("pond", func(b *testing.B) {
		p := pond.NewResultPool[int](workers)
		defer p.StopAndWait()
		ts := make([]pond.Result[int], b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range ts {
			ts[i] = p.Submit(func() int { return add(i, i) })
		}
		for i, t := range ts {
			if v, err := t.Wait(); err != nil || v != 2*i {
				b.Fatal(v, err)
			}
		}
	})
	b.Run("conc-pool", func(b *testing.B) {
		p := pool.New().WithMaxGoroutines(workers)
		res := make([]int, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range res {
			p.Go(func() { res[i] = add(i, i) })
		}
		p.Wait()
		check(b, res)
	})
	b.Run("errgroup", func(b *testing.B) {
		var g errgroup.Group
		g.SetLimit(workers)
		res := make([]int, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range res {
			g.Go(func() error { res[i] = add(i, i); return nil })
		}
		_ = g.Wait()
		check(b, res)
	})
	b.Run("waitgroup-chan", func(b *testing.B) {
		res := make([]int, b.N)
		jobs := make(chan int, 1024)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := range jobs {
					res[i] = add(i, i)
				}
			})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range res {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		check(b, res)
	})
}

// BenchmarkMap maps the task over b.N ints and consumes the results in
// input order.
func BenchmarkMap(b *testing.B) {
	b.Run("crew", func(b *testing.B) {
		ctx := context.Background()
		ex := crew.Goroutines(crew.Workers(workers))
		defer ex.Close()
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for r := range crew.Map(ctx, ex, addTask, ints(b.N)) {
			if r.Err != nil || r.Value != 2*i {
				b.Fatal(r)
			}
			i++
		}
	})
	b.Run("conc-stream", func(b *testing.B) {
		s := stream.New().WithMaxGoroutines(workers)
		b.ReportAllocs()
		b.ResetTimer()
		next := 0
		for i := range b.N {
			s.Go(func() stream.Callback {
				v := add(i, i)
				return func() {
					if v != 2*next {
						b.Fatal(v)
					}
					next++
				}
			})
		}
		s.Wait()
	})
	// The others have no ordered map: the natural equivalent is a results
	// slice indexed by input position, read in order at the end.
	b.Run("ants", func(b *testing.B) {
		p, _ := ants.NewPoolWithFunc(workers, func(x any) {
			j := x.(*job)
			j.res[j.i] = add(j.i, j.i)
			j.wg.Done()
		})
		defer p.Release()
		res := make([]int, b.N)
		var wg sync.WaitGroup
		b.ReportAllocs()
		b.ResetTimer()
		for i := range res {
			wg.Add(1)
			_ = p.Invoke(&job{i: i, res: res, wg: &wg})
		}
		wg.Wait()
		check(b, res)
	})
	b.Run("pond", func(b *testing.B) {
		p := pond.NewPool(workers)
		defer p.StopAndWait()
		res := make([]int, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		g := p.NewGroup()
		for i := range res {
			g.Submit(func() { res[i] = add(i, i) })
		}
		_ = g.Wait()
		check(b, res)
	})
	b.Run("errgroup", func(b *testing.B) {
		var g errgroup.Group
		g.SetLimit(workers)
		res := make([]int, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range res {
			g.Go(func() error { res[i] = add(i, i); return nil })
		}
		_ = g.Wait()
		check(b, res)
	})
}

type job struct {
	i   int
	res []int
	wg  *sync.WaitGroup
}

func ints(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

func check(b *testing.B, res []int) {
	for i, v := range res {
		if v != 2*i {
			b.Fatalf("res[%d] = %d", i, v)
		}
	}
}
