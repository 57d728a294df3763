package bench

import (
	"context"
	"slices"
	"time"
)

// Timing is the measured cost of one configuration: wall-clock seconds
// over its repetitions, the part of them spent starting and stopping the
// executor, and the CPU it kept busy.
type Timing struct {
	MedianS float64 `json:"median_s"`
	MinS    float64 `json:"min_s"`
	MaxS    float64 `json:"max_s"`
	Reps    int     `json:"reps"`
	// PoolS is the median time spent starting and stopping the executor's
	// workers, included in MedianS (the tutorials time their pools); WorkS
	// is the median of the rest, the work alone.
	PoolS float64 `json:"pool_s,omitempty"`
	WorkS float64 `json:"work_s,omitempty"`
	// Cores is CPU time (user+system, this process and the children it
	// waited for) divided by wall time: 1.0 is one core busy the whole
	// time. CPUUtil is the same divided by the number of cores.
	Cores   float64 `json:"cores_busy"`
	CPUUtil float64 `json:"cpu_util"`
}

// sample is one run of a trial.
type sample struct {
	check any
	// wall is the run's own measure of its wall time (Python's, without
	// the interpreter's start-up); 0 means the time measured around it.
	wall time.Duration
	// pool is the part of the wall time spent starting and stopping the
	// executor.
	pool time.Duration
}

// trial is one configuration to time: fn runs it once.
type trial struct {
	fn func(context.Context) (sample, error)
	// A trial runs at least minReps times, and up to maxReps while its
	// runs so far took less than the budget given to rounds.
	minReps, maxReps int
	before           func() // progress, told before the first run

	walls, pools []float64
	cpu, total   time.Duration
	check        any
	err          error
}

// rounds times trials in interleaved rounds — every trial once per round —
// so that load from other work on the machine falls on all of them alike.
// If warm, the first trial is run once untimed first (warming caches and
// the CPU's clock).
func rounds(ctx context.Context, trials []*trial, warm bool, budget time.Duration) error {
	if warm && len(trials) > 0 {
		if _, err := trials[0].fn(ctx); err != nil {
			return err
		}
	}
	for rep := 0; ; rep++ {
		ran := false
		for _, t := range trials {
			if t.err != nil || rep >= max(1, t.maxReps) || (rep >= t.minReps && t.total >= budget) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if rep == 0 && t.before != nil {
				t.before()
			}
			ran = true
			c0 := cpuTime()
			t0 := time.Now()
			s, err := t.fn(ctx)
			wall := time.Since(t0)
			t.cpu += cpuTime() - c0
			if err != nil {
				t.err = err
				continue
			}
			t.total += wall
			if s.wall > 0 {
				wall = s.wall
			}
			t.check = s.check
			t.walls = append(t.walls, wall.Seconds())
			t.pools = append(t.pools, s.pool.Seconds())
		}
		if !ran {
			return ctx.Err()
		}
	}
}

// timing summarises a trial's repetitions.
func (t *trial) timing(cpus int) Timing {
	if len(t.walls) == 0 {
		return Timing{}
	}
	s := slices.Clone(t.walls)
	slices.Sort(s)
	tm := Timing{MedianS: median(s), MinS: s[0], MaxS: s[len(s)-1], Reps: len(s)}
	work := make([]float64, len(t.walls))
	for i := range t.walls {
		work[i] = max(0, t.walls[i]-t.pools[i])
	}
	slices.Sort(work)
	pools := slices.Clone(t.pools)
	slices.Sort(pools)
	tm.PoolS, tm.WorkS = median(pools), median(work)
	if tm.PoolS == 0 {
		tm.WorkS = 0 // no executor to start: the work is the whole
	}
	if t.total > 0 {
		tm.Cores = t.cpu.Seconds() / t.total.Seconds()
		if cpus > 0 {
			tm.CPUUtil = tm.Cores / float64(cpus)
		}
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
