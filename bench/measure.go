package bench

import (
	"context"
	"slices"
	"syscall"
	"time"
)

// Timing is the measured cost of one configuration: wall-clock seconds
// over its repetitions and the CPU it kept busy.
type Timing struct {
	MedianS float64 `json:"median_s"`
	MinS    float64 `json:"min_s"`
	MaxS    float64 `json:"max_s"`
	Reps    int     `json:"reps"`
	// CPUUtil is CPU time (user+system, this process and the children it
	// waited for) divided by wall time and by the number of CPUs: 1.0
	// means every core was busy the whole time.
	CPUUtil float64 `json:"cpu_util"`
}

// trial is one configuration to time: fn runs it once and returns a value
// to compare between configurations, and optionally the wall time it
// measured itself (0 means: use the time measured around the call).
type trial struct {
	fn     func(context.Context) (check any, self time.Duration, err error)
	walls  []float64
	cpu    time.Duration
	total  time.Duration
	check  any
	err    error
	before func() // progress
	once   bool   // run in the first round only
}

// rounds times trials in interleaved rounds — every trial once per round —
// so that load from other work on the machine falls on all of them alike.
// A trial runs in at most maxReps rounds, and in later rounds only while
// its repetitions so far took less than budget; the first trial, if warm,
// is run once untimed first (warming caches and the CPU's clock).
func rounds(ctx context.Context, trials []*trial, warm bool, maxReps int, budget time.Duration) error {
	if warm && len(trials) > 0 {
		if _, _, err := trials[0].fn(ctx); err != nil {
			return err
		}
	}
	for rep := range max(1, maxReps) {
		for _, t := range trials {
			if t.err != nil || (rep > 0 && (t.once || t.total >= budget)) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if rep == 0 && t.before != nil {
				t.before()
			}
			c0 := cpuTime()
			t0 := time.Now()
			check, self, err := t.fn(ctx)
			wall := time.Since(t0)
			t.cpu += cpuTime() - c0
			if err != nil {
				t.err = err
				continue
			}
			t.total += wall
			if self > 0 {
				wall = self
			}
			t.check = check
			t.walls = append(t.walls, wall.Seconds())
		}
	}
	return ctx.Err()
}

// timing summarises a trial's repetitions.
func (t *trial) timing(cpus int) Timing {
	if len(t.walls) == 0 {
		return Timing{}
	}
	s := slices.Clone(t.walls)
	slices.Sort(s)
	tm := Timing{MedianS: median(s), MinS: s[0], MaxS: s[len(s)-1], Reps: len(s)}
	if t.total > 0 && cpus > 0 {
		tm.CPUUtil = t.cpu.Seconds() / t.total.Seconds() / float64(cpus)
	}
	return tm
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// cpuTime returns the user+system CPU time of this process plus that of
// its waited-for children.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}
