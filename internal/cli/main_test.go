package cli

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/crewrun/crew/bench"
	"github.com/crewrun/crew/proc"
)

// TestMain lets this test binary serve as a worker process for the
// commands' --mode processes, and as crew bench's child.
func TestMain(m *testing.M) {
	proc.ServeIfWorker()
	bench.ServeIfChild()
	goleak.VerifyTestMain(m)
}
