// Package crew runs many tasks at once — on goroutines, on a pool of OS
// processes (package proc) or on a cluster (package cluster) — behind one
// small API, with the same answers and the same errors on every one.
//
// A task is a named function, registered once at package level:
//
//	var square = crew.Register("square", func(ctx context.Context, n int) (int, error) {
//		return n * n, nil
//	})
//
// An Executor runs tasks. Submit starts one call and returns a Future
// (Python: executor.submit); Map streams a task over an iter.Seq and
// yields results in input order (Python: Pool.map) or, with Unordered, as
// they complete (Python: as_completed), holding at most Window inputs and
// results at a time so that memory stays flat on endless inputs:
//
//	ex := crew.Goroutines(crew.Workers(8))
//	defer ex.Close()
//	for r := range crew.Map(ctx, ex, square, slices.Values(nums)) {
//		fmt.Println(r.Index, r.Value, r.Err)
//	}
//
// Moving the work to worker processes or machines changes one line:
// proc.New(crew.Workers(8)) or cluster.New(ctx, url, crew.Workers(8)).
//
// # The contract, on every executor
//
//   - Options (Workers, Timeout, Retries, Initialize, OnProgress) mean the
//     same everywhere; an invalid one fails the constructor (Goroutines
//     panics). After Close, Submit and Map fail with ErrClosed.
//   - A task's panic is a *PanicError (errors.As), whose Error is one line
//     and whose Stack holds the stack — the remote one for a task that ran
//     in another process.
//   - Timeout fails an attempt with ErrTimeout at its deadline plus a small
//     grace, even if the task ignores its context.
//   - Errors marked Permanent are not retried; the sentinels (ErrTimeout,
//     ErrPanic, ErrWorkerDied, ErrClosed, ErrUnknownTask) survive every
//     boundary for errors.Is.
//   - Map whose context ends yields a last Result carrying the context's
//     error, so a cut-short stream is never mistaken for a complete one.
//   - Arguments and results cross processes as JSON; Register refuses
//     types that JSON would not carry intact (an unexported field, say),
//     on every executor, instead of letting them arrive as zeros.
//
// Package crewtest checks an executor against this contract; package
// crew/executor is what an executor implements.
//
// # Per-worker state
//
// RegisterInit registers a function that builds a value once per worker —
// an HTTP client, a connection — and Init.From hands it to the tasks that
// worker runs (Python: Pool(initializer=...), a requests.Session per
// thread). Being registered by name, it works in worker processes too.
package crew
