package cluster_test

import (
	"strings"
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
		if raceEnabled && strings.HasSuffix(t.Name(), "/Map100k") {
			// 100k tasks through a real server take minutes under the race
			// detector on 2 cores; the check runs in plain go test.
			t.Skip("Map100k is too slow under -race")
		}
		ex, err := cluster.New(t.Context(), "embedded", opts...)
		if err != nil {
			t.Fatal(err)
		}
		return ex
	})
}
