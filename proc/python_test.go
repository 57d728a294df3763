//go:build unix

package proc_test

import (
	"os/exec"
	"testing"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
	"github.com/crewrun/crew/proc"
)

// TestPythonWorkerConformance runs the conformance suite against workers
// written in Python from docs/protocol.md alone.
func TestPythonWorkerConformance(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH: the Python worker (testdata/pyworker.py) cannot be checked")
	}
	crewtest.Run(t, func(opts ...crew.Option) (crew.Executor, error) {
		return proc.New(append(opts, proc.Command(python, "testdata/pyworker.py"))...)
	})
}
