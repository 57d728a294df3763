package cli

import "github.com/crewrun/crew/bench"

// benchExecutors returns the executors crew bench runs beyond goroutines.
func benchExecutors() map[string]bench.NewExecutor {
	return map[string]bench.NewExecutor{}
}
