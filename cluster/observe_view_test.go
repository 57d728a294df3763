package cluster

import (
	"math"
	"testing"
	"time"

	"github.com/crewrun/crew/cluster/view"
)

// TestRate10sOfYoungJob: the rate over the last 10 s of a job that has
// run for less than that is over its life, not over 10 s (a job 2.5 s
// old that completed 35 calls runs at 14/s, not 3.5/s).
func TestRate10sOfYoungJob(t *testing.T) {
	now := time.Date(2026, 12, 6, 16, 0, 0, 0, time.UTC)
	spark := func(last ...int64) []int64 {
		s := make([]int64, view.SparkSeconds)
		copy(s[len(s)-len(last):], last)
		return s
	}
	for _, tc := range []struct {
		name  string
		age   time.Duration
		spark []int64
		want  float64
	}{
		{"2.5 s old", 2500 * time.Millisecond, spark(10, 12, 13), 14},
		{"a minute old", time.Minute, spark(5, 5, 5, 5, 5, 5, 5, 5, 5, 5), 5},
		{"10 s old", 10 * time.Second, spark(5, 5, 5, 5, 5, 5, 5, 5, 5, 5), 5},
		{"just started", 200 * time.Millisecond, spark(3), 3},
	} {
		rec := jobRecord{Started: now.Add(-tc.age), Updated: now, Spark: tc.spark}
		var done int64
		for _, n := range tc.spark {
			done += n
		}
		rec.Done = done
		j := jobView("job", jobSpec{}, true, rec, true, nil, now)
		if math.Abs(j.Rate10s-tc.want) > 1e-9 {
			t.Errorf("%s: Rate10s = %v, want %v", tc.name, j.Rate10s, tc.want)
		}
	}
}
