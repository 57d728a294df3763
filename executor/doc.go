// Package executor is what an executor of crew tasks implements, and what
// it shares with every other executor: the package crew/executor is to
// package crew what database/sql/driver is to database/sql. Programs that
// run tasks use package crew; they never need this one.
//
// # What an executor implements
//
// An executor is an Executor: Exec takes a Batch — n calls of one
// registered task from one submitter; crew.Submit hands over a batch of
// one, crew.Map batches of consecutive inputs — and Close drains it. The
// executor completes every element of every batch it took exactly once,
// with Batch.Complete, in any order and from any goroutine:
//
//   - in this process, it runs element i through the attempt policy,
//     Policy.Run(ctx, b, i): timeout, retries with jittered backoff,
//     Permanent errors and panic capture are implemented there once, for
//     every executor;
//   - in another process or machine, it sends the task name and
//     Batch.EncodeArgs (a JSON array) to a worker, which finds the task
//     with Lookup, decodes the arguments with Task.Decode and runs each
//     element through the same Policy.Run inside a Worker's context (for
//     the per-worker values of crew.Init); the worker sends the results
//     back as a JSON array (Decoded.AppendResults) and errors as
//     RemoteError, and the executor hands them to Batch.DecodeResults and
//     Batch.Complete.
//
// An executor resolves its options with NewConfig (executor-specific ones
// are made with Custom), reports progress on Config.Progress (a Tracker:
// every element is Submitted, then Started and Finished, or Finished
// without starting if it never ran), fails calls after Close with
// ErrClosed, and refuses invalid options when it is constructed.
//
// Package crewtest is the conformance suite: an executor is correct when
// crewtest.Run passes against it, and every executor in this module runs
// it (goroutines, proc, cluster, and proc with the Python worker of
// proc/testdata, which follows docs/protocol.md).
//
// # Errors across processes
//
// The sentinel errors (ErrTimeout, ErrPanic, ErrWorkerDied, ErrClosed,
// ErrUnknownTask) are the ones package crew exports. A task's error
// crosses a process as a RemoteError (ToRemote on the worker, Err on the
// executor), whose Kind keeps errors.Is working and which rebuilds a
// *PanicError, with the remote stack, for a remote panic.
package executor
