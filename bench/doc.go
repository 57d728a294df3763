// Package bench reproduces the experiments of the Python concurrency
// tutorials crew's users learned from — the same CPU-bound and IO-bound
// work done sequentially, on goroutines and on worker processes, the cost
// of tiny tasks, a shared counter, and what a crashing or hanging task does
// to a batch — and reports them: a table for the terminal, bench.html (one
// self-contained page: per experiment the tutorial's question, a chart, the
// table and what the numbers say on this machine), JSON, Markdown and the
// charts as SVG and PNG. With python3 on the machine it runs Python
// equivalents beside them (sequential, threads, processes), so the
// difference the GIL makes shows on the reader's own hardware.
//
// The smallest use:
//
//	func main() {
//		proc.ServeIfWorker() // worker processes start here
//		bench.ServeIfChild() // and experiment 7's child
//		rep, err := bench.Run(ctx, bench.Config{Quick: true,
//			Executors: map[string]bench.NewExecutor{"processes": proc.New}})
//		if err != nil { ... }
//		rep.WriteTable(os.Stdout)
//		rep.WriteHTML(f)
//	}
//
// Executors other than goroutines (worker processes, a cluster) are given
// in Config.Executors, so that this package depends on none of them.
//
// The timings are honest about themselves: every configuration runs
// several times, interleaved with the others, and reports its median and
// spread; the time to start and stop a pool is measured apart from the
// work; and a busy machine — load above the core count, sequential runs
// short of a core, other programs using the CPU — is warned about, in the
// table and in the page.
//
// The subdirectories of bench/ hold the side-by-side peer benchmarks of
// each crew command (scripts, and Go code with its own go.mod).
package bench
