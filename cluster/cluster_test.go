package cluster_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
)

func TestMain(m *testing.M) {
	if helperMain() {
		return
	}
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	crewtest.Run(t, func(t *testing.T, opts ...crew.Option) crew.Executor {
		ex, err := cluster.New(t.Context(), "embedded", opts...)
		if err != nil {
			t.Fatal(err)
		}
		return ex
	})
}
