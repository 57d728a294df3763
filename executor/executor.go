package executor

import "context"

// Executor runs batches of calls of registered tasks. crew.Executor is the
// same interface as seen by programs, which hand it to crew.Submit and
// crew.Map and only ever call Close.
type Executor interface {
	// Exec takes ownership of b and arranges for each of its elements to
	// be completed exactly once (Batch.Complete), from any goroutine. It
	// may block for back-pressure, but must give up when b.Context()
	// ends. If it returns an error (ErrClosed after Close, the context's
	// error) it took none of b, and the caller completes every element.
	Exec(b Batch) error
	// Close stops accepting batches, waits for the elements it took to
	// complete, and releases the executor's workers. Calling it again
	// does nothing.
	Close() error
}

// Batch is n ≥ 1 calls of one registered task from one submitter:
// elements 0 to Len()-1, each with its own argument, result and error.
// crew.Submit makes batches of one; crew.Map makes batches of consecutive
// inputs, growing from one while the input keeps coming. Ranges are
// half-open, [from, to).
//
// An in-process executor runs element i with Policy.Run(ctx, b, i) and
// completes it. One that crosses a process boundary sends EncodeArgs of a
// range to a worker, feeds the replies to DecodeResults and completes the
// range; it may split a batch over several workers.
type Batch interface {
	// Task returns the registered task name, the same for all elements.
	Task() string
	// Context returns the submitter's context. When it ends the results
	// no longer matter: a running element should be cancelled and the
	// waiting ones completed with its error.
	Context() context.Context
	// Len returns the number of elements.
	Len() int
	Runner
	// EncodeArgs returns the arguments of elements [from, to) as one JSON
	// array. It fails, with a Permanent error, if one of them cannot be
	// encoded; encode elements one by one to find which.
	EncodeArgs(from, to int) ([]byte, error)
	// DecodeResults keeps the results in data, a JSON array, as those of
	// elements from, from+1, … and returns how many it kept. It fails if
	// data is not a JSON array or holds more than to-from values; a value
	// that does not decode into the result type becomes that element's
	// error, reported when it is completed.
	DecodeResults(from, to int, data []byte) (int, error)
	// Complete finishes elements [from, to): with err nil their kept
	// results are delivered, otherwise err is. Each element is completed
	// once; ranges may be completed in any order, from any goroutine.
	Complete(from, to int, err error)
}

// Runner runs elements by index in this goroutine: a Batch in the
// submitting process, a Decoded batch in a worker. Policy.Run drives it.
type Runner interface {
	// Run runs element i once, a panic captured as a *PanicError, and
	// keeps its value for the result.
	Run(ctx context.Context, i int) error
	// Try runs element i once like Run, but keeps its value only when
	// keep is called (keep is nil when err is not): for an attempt that
	// may be abandoned while it runs on (see Policy.Grace).
	Try(ctx context.Context, i int) (keep func(), err error)
}
