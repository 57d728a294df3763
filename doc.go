// Package crew runs many tasks at once — on goroutines, on a pool of OS
// processes (package proc) or on a cluster (package cluster) — behind one
// small API.
//
// A task is a named function, registered once at package level:
//
//	var square = crew.Register("square", func(ctx context.Context, n int) (int, error) {
//		return n * n, nil
//	})
//
// An Executor runs tasks. Submit starts one call and returns a Future
// (Python: executor.submit); Map streams a task over an iter.Seq and yields
// results in input order (Python: Pool.map) or, with Unordered, as they
// complete (Python: as_completed), holding at most Window tasks and results
// at a time so that memory stays flat on endless inputs:
//
//	ex := crew.Goroutines(crew.Workers(8))
//	defer ex.Close()
//	for r := range crew.Map(ctx, ex, square, slices.Values(nums)) {
//		fmt.Println(r.Index, r.Value, r.Err)
//	}
//
// Options (Workers, Timeout, Retries, Initialize, OnProgress) are the same
// for every executor. A panic in a task becomes an error wrapping ErrPanic
// with the stack; the executor keeps working.
//
// # Per-worker state
//
// RegisterInit registers a function that builds a value once per worker —
// an HTTP client, a connection — and Init.From hands it to the tasks that
// worker runs (Python: Pool(initializer=...), a requests.Session per
// thread). Being registered by name, it works in worker processes too.
//
// # Codec
//
// Executors that cross process or machine boundaries encode arguments and
// results as JSON (encoding/json, RFC 8259), so A and R must round-trip
// through it; errors travel as RemoteError, whose Kind keeps errors.Is
// working for the sentinels. The goroutine executor encodes nothing. The
// wire protocol of package proc is specified in docs/protocol.md so that
// workers in other languages can join.
//
// # Writing an executor
//
// An executor implements Exec and Close. It resolves its options with
// NewConfig, runs a Call in-process with Call.Invoke or remotely with
// Call.EncodeArg, RunEncoded (on the worker, inside a Worker's context)
// and Call.DecodeResult, and ends each call with Call.Complete. Package
// crewtest checks an executor against the contract.
//
// An executor for which a hand-off is expensive — a round trip to another
// process — can also implement BatchExecutor: Map then hands it chunks of
// inputs (a Batch) instead of one Call each, growing from one input to
// thousands while the input keeps coming, and the executor sends a
// chunk's arguments as one JSON array (Batch.EncodeArgs, DecodeBatch on
// the worker) and completes its elements in ranges. That is how package
// proc runs tiny tasks at millions per second.
package crew
