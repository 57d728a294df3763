// Package proc runs crew tasks on a pool of worker processes: the program
// itself, re-executed (os.Executable), serving registered tasks by name
// over pipes. Goroutines need no processes for CPU work in Go; processes
// are for what goroutines cannot give — a task that crashes the process
// (cgo, os.Exit, out of memory) or runs away. Here a worker that dies
// fails only the call it was running, with an error wrapping
// crew.ErrWorkerDied (or retries it under crew.Retries), and is replaced;
// under crew.Timeout an overdue worker is killed for real and the call
// fails with crew.ErrTimeout; MaxTasksPerWorker recycles workers that
// leak. Python: multiprocessing.Pool and ProcessPoolExecutor, without
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
// Tiny tasks are cheap: crew.Map hands the pool chunks, which it sends in
// frames of about two milliseconds of a worker's work. The wire protocol,
// precise enough to write a worker in another language, is in
// docs/protocol.md.
package proc
