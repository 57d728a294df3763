// Package proc runs crew tasks on a pool of worker processes: the program
// itself, re-executed (os.Executable), serving registered tasks by name
// over pipes. Goroutines need no processes for CPU work in Go; processes
// are for what goroutines cannot give — a task that crashes the process
// (cgo, os.Exit, out of memory) or runs away. Here a worker that dies
// fails only the task it was running, with an error wrapping
// crew.ErrWorkerDied (or runs it again under crew.Retries), and is
// replaced; under crew.Timeout an overdue worker is killed for real and
// the task fails with crew.ErrTimeout; MaxTasksPerWorker recycles workers
// that leak. Python: multiprocessing.Pool and ProcessPoolExecutor, without
// BrokenProcessPool.
//
// Call ServeIfWorker first in main (and in TestMain of tests that use the
// pool): in a worker it serves tasks and never returns.
//
//	func main() {
//		proc.ServeIfWorker()
//		ex, err := proc.New(crew.Workers(4))
//		...
//	}
//
// A program that forgets it is told: New, running again in each worker
// instead of serving, fails there at once and the parent's New fails with
// that error, naming ServeIfWorker; a worker that never answers fails New
// after ten seconds.
//
// Everything else is the contract of package crew, the same on every
// executor (package crewtest checks it): a submitted task is a batch of
// one, crew.Map sends chunks of inputs, which the pool cuts into frames
// of about two milliseconds of a worker's work, so tiny tasks are cheap.
// The workers apply the attempt policy (timeouts, retries) themselves.
// The wire protocol, precise enough to write a worker in another language
// (proc/testdata/pyworker.py is one, in Python), is in docs/protocol.md.
//
// Workers receive their pipes as descriptors 3 and 4, which only Unix
// passes to a child: on Windows New returns an error saying so.
package proc
