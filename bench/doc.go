// Package bench reproduces the timing experiments of the Python
// concurrency tutorials crew's users learned from — the same CPU-bound and
// IO-bound work done sequentially, on goroutines and on worker processes —
// and reports them as a table, JSON, Markdown and a plot. With python3 on
// the machine it runs Python equivalents beside them (sequential, threads,
// processes), so the difference the GIL makes shows on the reader's own
// hardware.
//
// The smallest use:
//
//	rep, err := bench.Run(ctx, bench.Config{Quick: true})
//	if err != nil { ... }
//	rep.WriteTable(os.Stdout)
//
// Executors other than goroutines (worker processes, a cluster) are given
// in Config.Executors, so that this package depends on none of them.
//
// The subdirectories of bench/ hold the side-by-side peer benchmarks of
// each crew command (scripts, and Go code with its own go.mod).
package bench
