package crew_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGoroutinesConformance(t *testing.T) {
	crewtest.Run(t, func(t *testing.T, opts ...crew.Option) crew.Executor {
		return crew.Goroutines(opts...)
	})
}
