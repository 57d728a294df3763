package cli

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/crewrun/crew/proc"
)

// TestMain lets this test binary serve as a worker process for the
// commands' --mode processes.
func TestMain(m *testing.M) {
	proc.ServeIfWorker()
	goleak.VerifyTestMain(m)
}
