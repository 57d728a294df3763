package cli

import (
	"github.com/crewrun/crew"
	"github.com/crewrun/crew/bench"
	"github.com/crewrun/crew/proc"
)

// newExecutor makes the executor a --mode flag names.
func newExecutor(mode string, opts ...crew.Option) (crew.Executor, error) {
	switch mode {
	case "goroutines":
		return crew.Goroutines(opts...), nil
	case "processes":
		return proc.New(opts...)
	}
	return nil, usagef("unknown mode %q", mode)
}

// benchExecutors returns the executors crew bench runs beyond goroutines.
func benchExecutors() map[string]bench.NewExecutor {
	return map[string]bench.NewExecutor{"processes": proc.New}
}
