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

// repeat runs fn once for warm-up if warm is set, then at least once and
// up to maxReps times while the repetitions so far took less than budget,
// and returns the timing with the check value of the last run.
func repeat(ctx context.Context, warm bool, maxReps int, budget time.Duration, cpus int, fn func(context.Context) (any, error)) (Timing, any, error) {
	if warm {
		if _, err := fn(ctx); err != nil {
			return Timing{}, nil, err
		}
	}
	var (
		walls []float64
		cpu   time.Duration
		total time.Duration
		check any
	)
	for len(walls) < max(1, maxReps) && (len(walls) == 0 || total < budget) {
		if err := ctx.Err(); err != nil {
			return Timing{}, nil, err
		}
		c0 := cpuTime()
		t0 := time.Now()
		v, err := fn(ctx)
		wall := time.Since(t0)
		cpu += cpuTime() - c0
		if err != nil {
			return Timing{}, nil, err
		}
		check = v
		total += wall
		walls = append(walls, wall.Seconds())
	}
	slices.Sort(walls)
	t := Timing{
		MedianS: median(walls),
		MinS:    walls[0],
		MaxS:    walls[len(walls)-1],
		Reps:    len(walls),
	}
	if total > 0 && cpus > 0 {
		t.CPUUtil = cpu.Seconds() / total.Seconds() / float64(cpus)
	}
	return t, check, nil
}

func sortFloats(s []float64) { slices.Sort(s) }

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
