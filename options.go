package crew

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// Option configures an executor. Every executor (Goroutines, proc.New,
// cluster.New) accepts the same options; executor-specific ones are built
// with Custom.
type Option func(*Config) error

// Config is the validated set of options an executor runs with. Executor
// implementations get theirs from NewConfig; users set it through Options.
type Config struct {
	Workers      int           // concurrent tasks; default runtime.NumCPU()
	Timeout      time.Duration // per attempt; 0 means none
	Retries      int           // extra attempts after a failure
	RetryBackoff time.Duration // delay before the first retry; doubled per retry, jittered
	Inits        []string      // initializers each worker builds when it starts
	Progress     *Tracker      // nil unless OnProgress was given
	custom       map[any]any
}

// NewConfig applies opts over the defaults and validates the result.
func NewConfig(opts ...Option) (Config, error) {
	c := Config{Workers: runtime.NumCPU(), RetryBackoff: 100 * time.Millisecond}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// Custom returns the value an executor-specific option stored under key.
func (c Config) Custom(key any) (any, bool) {
	v, ok := c.custom[key]
	return v, ok
}

// RetryDelay returns how long to wait before retry number attempt (1 for
// the first retry): RetryBackoff doubled per retry, capped at a minute,
// with jitter drawn from [d/2, d) so that many failing tasks do not retry
// in lockstep.
func (c Config) RetryDelay(attempt int) time.Duration {
	if c.RetryBackoff <= 0 || attempt < 1 {
		return 0
	}
	d := c.RetryBackoff
	for i := 1; i < attempt && d < time.Minute; i++ {
		d *= 2
	}
	d = min(d, time.Minute)
	return d/2 + rand.N(d/2+1)
}

// Workers sets how many tasks run at once. The default, runtime.NumCPU(),
// suits CPU-bound work; IO-bound work (downloads) wants many more.
func Workers(n int) Option {
	return func(c *Config) error {
		if n < 1 {
			return fmt.Errorf("%w: Workers(%d): need at least 1", ErrInvalidOption, n)
		}
		c.Workers = n
		return nil
	}
}

// Timeout limits each attempt of a task to d. The task's context is
// cancelled at the deadline and its error then wraps ErrTimeout. On the
// goroutine and cluster executors the task must return by itself (Go
// cannot kill a goroutine); the process executor (package proc) also kills
// a worker whose task overruns the deadline by a grace period.
func Timeout(d time.Duration) Option {
	return func(c *Config) error {
		if d < 0 {
			return fmt.Errorf("%w: Timeout(%v): negative", ErrInvalidOption, d)
		}
		c.Timeout = d
		return nil
	}
}

// Retries reruns a failed task up to n more times, waiting backoff before
// the first retry and doubling (with jitter) after that. Errors marked with
// Permanent, and failures after the submitter's context ended, are not
// retried.
func Retries(n int, backoff time.Duration) Option {
	return func(c *Config) error {
		if n < 0 || backoff < 0 {
			return fmt.Errorf("%w: Retries(%d, %v): negative", ErrInvalidOption, n, backoff)
		}
		c.Retries, c.RetryBackoff = n, backoff
		return nil
	}
}

// Initialize makes every worker build the given initializers' values when
// it starts, before its first task (Python: Pool(initializer=...)). Without
// it, Init.From builds a worker's value on first use.
func Initialize(inits ...Initializer) Option {
	return func(c *Config) error {
		for _, in := range inits {
			c.Inits = append(c.Inits, in.InitName())
		}
		return nil
	}
}

// OnProgress calls fn after every change in the executor's counts. Calls
// are serialised, so fn sees counts in order; fn runs on the executor's own
// goroutines and must be quick (update a progress bar, not draw one).
func OnProgress(fn func(Progress)) Option {
	return func(c *Config) error {
		if fn != nil {
			c.Progress = &Tracker{fn: fn}
		}
		return nil
	}
}

// Custom stores an executor-specific option under key; the executor reads
// it back with Config.Custom. Use an unexported key type, as with
// context.WithValue.
func Custom(key, value any) Option {
	return func(c *Config) error {
		if c.custom == nil {
			c.custom = map[any]any{}
		}
		c.custom[key] = value
		return nil
	}
}

// Progress is a snapshot of an executor's task counts.
type Progress struct {
	Submitted int64 // accepted by the executor
	Running   int64 // started, not finished
	Done      int64 // finished without error
	Failed    int64 // finished with an error
}

// InFlight returns the tasks submitted and not yet finished.
func (p Progress) InFlight() int64 { return p.Submitted - p.Done - p.Failed }

// Tracker keeps an executor's Progress and reports it to the OnProgress
// function. Its methods do nothing on a nil Tracker, so executors call them
// unconditionally.
type Tracker struct {
	mu sync.Mutex
	p  Progress
	fn func(Progress)
}

func (t *Tracker) update(f func(*Progress)) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f(&t.p)
	t.fn(t.p)
}

// Submitted records a task accepted by the executor. Call it before the
// task can start, so that no count ever runs ahead of it.
func (t *Tracker) Submitted() { t.update(func(p *Progress) { p.Submitted++ }) }

// Withdrawn takes back a Submitted for a task the executor then refused.
func (t *Tracker) Withdrawn() { t.update(func(p *Progress) { p.Submitted-- }) }

// Started records a task that began running.
func (t *Tracker) Started() { t.update(func(p *Progress) { p.Running++ }) }

// Finished records a task's outcome; started says whether Started was
// recorded for it (a task cancelled while queued never started).
func (t *Tracker) Finished(started bool, err error) {
	t.update(func(p *Progress) {
		if started {
			p.Running--
		}
		if err != nil {
			p.Failed++
		} else {
			p.Done++
		}
	})
}
