// Package run is crew's job runner: GNU parallel's syntax for the common
// cases at xargs speed. A command template with replacement strings
// ({}, {.}, {/}, {//}, {/.}, {#}, {%}, {n}, {n.}, ...) is filled from input
// arguments — the cartesian product of ::: lists and :::: files, or lines
// of standard input — and the jobs run on up to Jobs processes at once,
// each job's output printed whole when it ends (in input order with
// KeepOrder), with GNU parallel's joblog, resume, retries, timeouts and
// halting rules.
//
// On Linux, as GNU parallel does with temporary files, a job writes its
// stdout and stderr to files of its own (anonymous in-memory files),
// printed when its process ends: a job that leaves a process in the
// background is done when its own process exits. With LineBuffer or Pipe,
// and on other systems, its output comes through pipes, and a job is done
// when they close.
//
//	err := run.Run(ctx, run.Options{
//		Command: []string{"gzip", "-9", "{}"},
//		Sources: []run.Source{run.Args("a.txt", "b.txt")},
//		Jobs:    4,
//		Stdout:  os.Stdout, Stderr: os.Stderr,
//	})
//
// Substituted arguments are shell-quoted exactly as GNU parallel quotes
// them, so spaces, quotes, $, *, backslashes and newlines in file names
// are safe.
package run
