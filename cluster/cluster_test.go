package cluster_test

import (
	"context"
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
	var opts []crewtest.Option
	if raceEnabled {
		// 100k tasks through a real server take minutes under the race
		// detector on 2 cores; .ci/run runs the check without -race.
		opts = append(opts, crewtest.Skip("Map100k", "too slow under -race; .ci/run runs it without -race"))
	}
	crewtest.Run(t, func(opts ...crew.Option) (crew.Executor, error) {
		return cluster.New(context.Background(), "embedded", opts...)
	}, opts...)
}
