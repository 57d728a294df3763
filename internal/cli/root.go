// Package cli implements the crew command line: one file per subcommand,
// each parsing its flags into an options struct and making one call into a
// domain package. Exit codes are decided in exactly one place, exitCode.
package cli

import (
	"context"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"
)

// Streams are the standard streams a command reads and writes. Tests pass
// buffers; the binary passes the process's own.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StdStreams returns the process's standard input, output and error.
func StdStreams() Streams {
	return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
}

// Main runs the crew command line with args (without the program name) and
// returns the process exit status. ctx is cancelled on SIGINT/SIGTERM.
func Main(ctx context.Context, args []string, s Streams) int {
	root := newRootCommand(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return reportError(ctx, s.Err, err)
}

func newRootCommand(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "crew",
		Short: "Run many tasks at once: shell jobs, downloads, crawls, copies, CPU work",
		Long: `crew runs many tasks at once — on goroutines, on a pool of OS processes,
or on a cluster — and ships the everyday jobs that need it.

Exit status: 0 all ok, 1 some tasks failed, 2 usage or bad input,
130 interrupted (crew run follows GNU parallel instead: see crew run --help).`,
		Example: `  crew bench --quick                        # the Python tutorials' timings, reproduced in Go
  crew primes sum 1e6 2e6 3e6 --mode processes
  crew run gzip -9 ::: *.log                # GNU parallel's syntax
  crew fetch -i urls.txt -o results.jsonl   # many downloads, one JSON line each
  crew crawl --depth 2 https://example.com/ # polite, resumable crawler
  crew copy -j 8 photos/ /backup/photos/    # parallel, atomic cp -a
  crew serve & crew worker --server nats://127.0.0.1:4222`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for crew; see crew --help", args[0])
		}
		return nil
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	// A worker count beyond any machine is a mistake, and would otherwise
	// run out of memory starting goroutines before anything is said.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if f := cmd.Flags().Lookup("jobs"); f != nil && f.Value.Type() == "int" {
			if n, err := strconv.Atoi(f.Value.String()); err == nil && n > maxJobs {
				return usagef("-j %d: at most %d", n, maxJobs)
			}
		}
		return nil
	}
	for _, add := range subcommands {
		cmd := add(s)
		cmd.Args = usageArgs(cmd.Args)
		root.AddCommand(cmd)
	}
	return root
}

// maxJobs bounds -j: far more than any machine runs at once.
const maxJobs = 1 << 16

// usageArgs makes a command's positional-argument check report a usage
// error (exit status 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	if check == nil {
		return nil
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// subcommands lists the constructors of crew's subcommands; each file
// adds its own in an init-free way by appending here.
var subcommands = []func(Streams) *cobra.Command{
	newVersionCommand,
	newBenchCommand,
	newPrimesCommand,
	newRunCommand,
	newFetchCommand,
	newCrawlCommand,
	newCopyCommand,
	newServeCommand,
	newWorkerCommand,
	newJobsCommand,
	newCancelCommand,
	newTopCommand,
}
