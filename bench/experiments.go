package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/primes"
)

// The experiments' tasks, registered at package level so that worker
// processes running the crew binary know them.
var (
	sumPrimesTask = crew.Register("bench.sum-primes", func(_ context.Context, r Span) (uint64, error) {
		var s uint64
		for n := r.Lo; n < r.Hi; n += r.Step {
			if primes.IsPrime6k(n) {
				s += n
			}
		}
		return s, nil
	})
	isPrimeTask = crew.Register("bench.is-prime", func(_ context.Context, n uint64) (bool, error) {
		return primes.IsPrimeTrial(n), nil
	})
	hasDivisorTask = crew.Register("bench.has-divisor", func(_ context.Context, d Divisors) (bool, error) {
		return primes.HasDivisor(d.N, d.Lo, d.Hi), nil
	})
	squaresTask = crew.Register("bench.squares", func(_ context.Context, n uint64) (uint64, error) {
		return primes.SumSquares(n), nil
	})
	addTask = crew.Register("bench.add", func(_ context.Context, n int) (int, error) {
		return n + n, nil
	})
	downloadTask = crew.Register("bench.download", func(ctx context.Context, url string) (int, error) {
		c, err := httpClient.From(ctx)
		if err != nil {
			return 0, err
		}
		return download(ctx, c, url)
	})
	// httpClient is each worker's own HTTP client (the seeds: a
	// requests.Session per thread, or made by a Pool initializer).
	httpClient = crew.RegisterInit("bench.http-client", func(context.Context) (*http.Client, error) {
		return newHTTPClient(), nil
	})
)

// Span is every Step-th integer of [Lo, Hi), starting at Lo.
type Span struct {
	Lo   uint64 `json:"lo"`
	Hi   uint64 `json:"hi"`
	Step uint64 `json:"step"`
}

// Divisors asks whether N has a divisor in [Lo, Hi).
type Divisors struct {
	N  uint64 `json:"n"`
	Lo uint64 `json:"lo"`
	Hi uint64 `json:"hi"`
}

const (
	// screenLimit is how far every number is trial-divided first: composites
	// with a small factor stop there, as they do sequentially.
	screenLimit = 1 << 16
	// divisorChunk is how many candidate divisors one task tries after the
	// screen, so that a few big primes spread over all workers.
	divisorChunk = 1 << 22
)

// parallelIsPrime tests numbers by trial division in two rounds: every
// number against the divisors below screenLimit, then the survivors'
// remaining divisors up to √n in chunks, fed in waves (every number's
// first chunk, then every second chunk, ...) and skipping the numbers a
// chunk has already proven composite. It does about the sequential loop's
// work but splits a big prime over every worker instead of leaving it to
// one. The window is kept small so that few chunks are in flight when a
// divisor turns up.
func parallelIsPrime(ctx context.Context, ex crew.Executor, workers int, numbers []uint64) ([]bool, error) {
	out := make([]bool, len(numbers))
	var screens []Divisors
	for _, n := range numbers {
		screens = append(screens, Divisors{N: n, Lo: 2, Hi: screenLimit})
	}
	for r := range crew.Map(ctx, ex, hasDivisorTask, slices.Values(screens), crew.Unordered()) {
		if r.Err != nil {
			return nil, r.Err
		}
		out[r.Index] = !r.Value && numbers[r.Index] >= 2
	}
	composite := make([]atomic.Bool, len(numbers))
	var owner []int // the number each chunk fed belongs to, by Map index
	var mu sync.Mutex
	waves := func(yield func(Divisors) bool) {
		for lo := uint64(screenLimit); ; lo += divisorChunk {
			any := false
			for i, n := range numbers {
				if !out[i] || lo*lo > n || composite[i].Load() {
					continue
				}
				any = true
				mu.Lock()
				owner = append(owner, i)
				mu.Unlock()
				if !yield(Divisors{N: n, Lo: lo, Hi: lo + divisorChunk}) {
					return
				}
			}
			if !any {
				return
			}
		}
	}
	for r := range crew.Map(ctx, ex, hasDivisorTask, waves, crew.Unordered(), crew.Window(2*workers)) {
		if r.Err != nil {
			return nil, r.Err
		}
		if r.Value {
			mu.Lock()
			i := owner[r.Index]
			mu.Unlock()
			composite[i].Store(true)
		}
	}
	for i := range out {
		out[i] = out[i] && !composite[i].Load()
	}
	return out, nil
}

// seedPrimes is the list of numbers the tutorials test for primality.
var seedPrimes = []uint64{
	1116281, 1297337, 104395303, 472882027, 533000389, 817504243, 982451653,
	112272535095293, 112582705942171, 112272535095293, 115280095190773,
	115797848077099, 1099726899285419,
}

// kind says how an experiment is run, tabled and drawn.
type kind int

const (
	kindCPU       kind = iota // speed-up over sequential against workers
	kindIO                    // time against workers, beside the ideal
	kindOverhead              // the cost of one tiny task
	kindCounter               // the shared counter: increments lost
	kindIsolation             // a task that crashes and one that hangs
)

// experiment is one of the tutorials' experiments.
type experiment struct {
	number int
	name   string
	kind   kind
	title  string
	label  string // a few words, for charts
	// question is the tutorial's question, in one sentence; seed says
	// which tutorial asks it and how.
	question string
	seed     string
	opts     []crew.Option // for every executor this experiment runs on
	seq      func(context.Context) (any, error)
	par      func(ctx context.Context, ex crew.Executor, workers int) (any, error)
	// python names the experiment in bench/python/seeds.py; params go with it.
	python string
	params map[string]any
	// ideal returns the best possible wall time on n workers, if known.
	ideal func(workers int) float64
	// tasks is how many tasks one run hands the executor.
	tasks int
}

// strides is how many tasks each sum of primes is split into. Task i of a
// sum tests every strides-th number from 2+i, so the tasks of one sum cost
// the same; few tasks keep per-task overhead low, even for processes.
const strides = 12

func experiments(cfg Config) []experiment {
	sums := []uint64{1_000_000, 2_000_000, 3_000_000}
	checks := seedPrimes
	squares, squareTasks := uint64(20_000_000), 4
	tiny := 100_000
	if cfg.Quick {
		sums = []uint64{100_000, 200_000, 300_000}
		checks = append(seedPrimes[:7:7], 999_999_999_989) // a prime near 1e12
		squares = 500_000
		tiny = 10_000
	}
	var spans []Span
	var owner []int                       // spans[i] adds to the sum of sums[owner[i]]
	for i := len(sums) - 1; i >= 0; i-- { // the costliest sum first, for balance
		for k := range uint64(strides) {
			spans = append(spans, Span{2 + k, sums[i] + 1, strides})
			owner = append(owner, i)
		}
	}
	squareInputs := slices.Repeat([]uint64{squares}, squareTasks)
	return []experiment{
		{
			number: 1, label: "1. sum of primes (CPU)", name: "sum-primes", kind: kindCPU,
			title:    fmt.Sprintf("CPU-bound: the sum of the primes up to %s", list(sums)),
			question: "Do threads make CPU-bound Python faster, and do processes?",
			seed: "seed 003, \u201cMultiprocessing & Multithreading\u201d: the sums of primes up to " + list(sums) +
				" by trial division, on a queue served by threads, then with Pool(2).map",
			tasks: len(spans),
			seq: func(ctx context.Context) (any, error) {
				out := make([]uint64, len(sums))
				for _, n := range sums { // the tutorials' loop, one sum at a time
					v, err := primes.SumTrial(n)
					if err != nil {
						return nil, err
					}
					out[slices.Index(sums, n)] = v
				}
				return out, nil
			},
			par: func(ctx context.Context, ex crew.Executor, workers int) (any, error) {
				out := make([]uint64, len(sums))
				for r := range crew.Map(ctx, ex, sumPrimesTask, slices.Values(spans), crew.Unordered()) {
					if r.Err != nil {
						return nil, r.Err
					}
					out[owner[r.Index]] += r.Value
				}
				return out, nil
			},
			python: "sum-primes",
			params: map[string]any{"sums": sums, "strides": strides},
		},
		{
			number: 2, label: "2. is_prime (CPU)", name: "is-prime", kind: kindCPU,
			title:    fmt.Sprintf("CPU-bound: is_prime by trial division over the tutorial's %d numbers", len(checks)),
			question: "Which pool tests big numbers for primality faster: ThreadPoolExecutor or ProcessPoolExecutor?",
			seed: "seed 004, \u201cConcurrent programming in Python\u201d: executor.map(is_prime, PRIMES) " +
				"on a ThreadPoolExecutor, then on a ProcessPoolExecutor, timed with time(1)",
			seq: func(ctx context.Context) (any, error) {
				out := make([]bool, len(checks))
				for i, n := range checks {
					out[i], _ = isPrimeTask.Call(ctx, n)
				}
				return out, nil
			},
			par: func(ctx context.Context, ex crew.Executor, workers int) (any, error) {
				return parallelIsPrime(ctx, ex, workers, checks)
			},
			python: "is-prime",
			params: map[string]any{"numbers": checks, "screen": screenLimit, "chunk": divisorChunk},
		},
		{
			number: 3, label: "3. complex calculations (CPU)", name: "squares", kind: kindCPU,
			title:    fmt.Sprintf("CPU-bound: %d \u201ccomplex calculations\u201d, each squaring 0..%s", squareTasks, list([]uint64{squares})),
			question: "Can two heavy calculations run at the same time in one program?",
			seed: "seed 002, \u201cSection 12\u201d: complex_calculation() run twice on two threads (18.6 s against 10 s alone), " +
				"then four times on four processes",
			tasks: squareTasks,
			seq: func(ctx context.Context) (any, error) {
				var s uint64
				for _, n := range squareInputs {
					v, _ := squaresTask.Call(ctx, n)
					s += v
				}
				return s, nil
			},
			par: func(ctx context.Context, ex crew.Executor, workers int) (any, error) {
				var s uint64
				for r := range crew.Map(ctx, ex, squaresTask, slices.Values(squareInputs), crew.Unordered()) {
					if r.Err != nil {
						return nil, r.Err
					}
					s += r.Value
				}
				return s, nil
			},
			python: "squares",
			params: map[string]any{"n": squares, "tasks": squareTasks},
		},
		ioExperiment(cfg),
		{
			number: 5, label: fmt.Sprintf("5. %s tiny tasks", thousands(tiny)), name: "overhead", kind: kindOverhead,
			title:    fmt.Sprintf("Overhead: %s tiny tasks (add two ints) through each executor", thousands(tiny)),
			question: "What does handing one tiny job to a pool cost?",
			seed:     "seed 000, sentdex\u2019s \u201cMultiprocessing\u201d: Pool(processes=20).map(job, range(10000)) on a job that doubles a number",
			tasks:    tiny,
			seq: func(ctx context.Context) (any, error) {
				s := 0
				for i := range tiny {
					v, _ := addTask.Call(ctx, i)
					s += v
				}
				return s, nil
			},
			par: func(ctx context.Context, ex crew.Executor, workers int) (any, error) {
				s := 0
				for r := range crew.Map(ctx, ex, addTask, ints(tiny)) {
					if r.Err != nil {
						return nil, r.Err
					}
					s += r.Value
				}
				return s, nil
			},
			python: "overhead",
			params: map[string]any{"n": tiny},
		},
		{
			number: 6, label: "6. shared counter", name: "shared-counter", kind: kindCounter,
			title: fmt.Sprintf("Shared state: %d goroutines \u00d7 %s increments of one counter, unsynchronised, atomic and through a channel",
				counterGoroutines, thousands(counterIncrements)),
			question: "Why does a counter shared by threads come out wrong, and how is it fixed?",
			seed: "seed 002, \u201cSection 12\u201d: threads incrementing a global counter print duplicate values; " +
				"a queue feeding one counter thread fixes it",
			python: "shared-counter",
			params: map[string]any{"threads": counterGoroutines, "increments": counterIncrements, "yield_every": yieldEvery},
		},
		isolationExperiment(cfg),
	}
}

// thousands writes n with commas: 100,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func ioExperiment(cfg Config) experiment {
	pages := cfg.Pages
	return experiment{
		number: 4, label: fmt.Sprintf("4. %d downloads (IO)", pages), name: "download", kind: kindIO,
		title:    fmt.Sprintf("IO-bound: download %d pages from a loopback server that answers after %s", pages, dur(cfg.Latency.Seconds())),
		question: "How much faster do many downloads finish with threads, or processes, than one after another?",
		seed: "seed 001, \u201cMultiprocessing with Python\u201d: download_all_sites over 160 URLs sequentially, " +
			"with a ThreadPoolExecutor (a requests.Session per thread) and a Pool(8, initializer=set_global_session)",
		tasks: pages,
		opts:  []crew.Option{crew.Initialize(httpClient)},
		seq: func(ctx context.Context) (any, error) {
			c := newHTTPClient()
			defer c.CloseIdleConnections()
			total := 0
			for _, u := range cfg.urls {
				n, err := download(ctx, c, u)
				if err != nil {
					return nil, err
				}
				total += n
			}
			return total, nil
		},
		par: func(ctx context.Context, ex crew.Executor, workers int) (any, error) {
			total := 0
			for r := range crew.Map(ctx, ex, downloadTask, slices.Values(cfg.urls), crew.Unordered()) {
				if r.Err != nil {
					return nil, r.Err
				}
				total += r.Value
			}
			return total, nil
		},
		python: "download",
		params: map[string]any{"urls": cfg.urls},
		ideal: func(workers int) float64 {
			rounds := (pages + workers - 1) / workers
			return float64(rounds) * cfg.Latency.Seconds()
		},
	}
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

func list(ns []uint64) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += ", "
		}
		s += short(n)
	}
	return s
}

// short writes round numbers as 3e6, others in full.
func short(n uint64) string {
	e := 0
	m := n
	for m >= 10 && m%10 == 0 {
		m /= 10
		e++
	}
	if e >= 3 && m < 10 {
		return fmt.Sprintf("%de%d", m, e)
	}
	return fmt.Sprint(n)
}

func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
}

func download(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return int(n), nil
}
