package crew_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crewrun/crew"
)

var square = crew.Register("example.square", func(_ context.Context, n int) (int, error) {
	return n * n, nil
})

// Submit starts one task and returns a Future (Python: executor.submit).
func ExampleSubmit() {
	ctx := context.Background()
	ex := crew.Goroutines()
	defer ex.Close()

	f := crew.Submit(ctx, ex, square, 12)
	n, err := f.Wait(ctx)
	fmt.Println(n, err)
	// Output: 144 <nil>
}

// Map yields results in input order (Python: Pool.map).
func ExampleMap() {
	ctx := context.Background()
	ex := crew.Goroutines(crew.Workers(4))
	defer ex.Close()

	for r := range crew.Map(ctx, ex, square, slices.Values([]int{1, 2, 3, 4})) {
		fmt.Println(r.Index, r.Value)
	}
	// Output:
	// 0 1
	// 1 4
	// 2 9
	// 3 16
}

var nap = crew.Register("example.nap", func(ctx context.Context, ms int) (int, error) {
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return ms, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// With Unordered, Map yields results as tasks finish (Python: as_completed).
func ExampleUnordered() {
	ctx := context.Background()
	ex := crew.Goroutines(crew.Workers(3))
	defer ex.Close()

	for r := range crew.Map(ctx, ex, nap, slices.Values([]int{300, 10, 150}), crew.Unordered()) {
		fmt.Printf("input %d slept %d ms\n", r.Index, r.Value)
	}
	// Output:
	// input 1 slept 10 ms
	// input 2 slept 150 ms
	// input 0 slept 300 ms
}

var divide = crew.Register("example.divide", func(_ context.Context, n int) (int, error) {
	return 100 / n, nil // panics for 0
})

// A panicking task fails with ErrPanic; the executor carries on.
func ExampleErrPanic() {
	ctx := context.Background()
	ex := crew.Goroutines()
	defer ex.Close()

	for r := range crew.Map(ctx, ex, divide, slices.Values([]int{5, 0, 20})) {
		if r.Err != nil {
			fmt.Println(r.Index, "panicked:", errors.Is(r.Err, crew.ErrPanic), strings.Contains(r.Err.Error(), "divide by zero"))
			continue
		}
		fmt.Println(r.Index, r.Value)
	}
	// Output:
	// 0 20
	// 1 panicked: true true
	// 2 5
}

// One HTTP client per worker, built once when the worker starts (Python:
// Pool(initializer=...) or a requests.Session per thread).
var httpClient = crew.RegisterInit("example.http-client", func(context.Context) (*http.Client, error) {
	return &http.Client{Timeout: 10 * time.Second}, nil
})

var clientTimeout = crew.Register("example.client-timeout", func(ctx context.Context, _ string) (time.Duration, error) {
	c, err := httpClient.From(ctx)
	if err != nil {
		return 0, err
	}
	return c.Timeout, nil // a real task would c.Get(url)
})

func ExampleRegisterInit() {
	ctx := context.Background()
	ex := crew.Goroutines(crew.Workers(2), crew.Initialize(httpClient))
	defer ex.Close()

	d, err := crew.Submit(ctx, ex, clientTimeout, "https://example.com").Wait(ctx)
	fmt.Println(d, err)
	// Output: 10s <nil>
}

// flaky fails until it has been called three times for the same key.
var (
	attempts = map[string]int{} // one worker below, so no lock needed
	flaky    = crew.Register("example.flaky", func(_ context.Context, key string) (string, error) {
		attempts[key]++
		if attempts[key] < 3 {
			return "", fmt.Errorf("attempt %d failed", attempts[key])
		}
		return "ok after " + fmt.Sprint(attempts[key]) + " attempts", nil
	})
)

// Retries reruns failed tasks with jittered exponential backoff.
func ExampleRetries() {
	ctx := context.Background()
	ex := crew.Goroutines(crew.Workers(1), crew.Retries(3, time.Millisecond))
	defer ex.Close()

	key := fmt.Sprint(time.Now().UnixNano()) // fresh on every run of the example
	s, err := crew.Submit(ctx, ex, flaky, key).Wait(ctx)
	fmt.Println(s, err)
	// Output: ok after 3 attempts <nil>
}
