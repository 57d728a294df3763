package executor

import (
	"runtime"
	"time"
)

// Option configures an executor; crew.Option is the same type. Every
// executor takes the options of package crew (crew.Workers, crew.Timeout,
// …); executor-specific ones are made with Custom.
type Option func(*Config) error

// Config is the validated set of options an executor runs with.
type Config struct {
	Workers      int           // concurrent tasks; default runtime.NumCPU()
	Timeout      time.Duration // per attempt; 0 means none
	Retries      int           // extra attempts after a failure
	RetryBackoff time.Duration // delay before the first retry; doubled per retry, jittered
	Inits        []string      // initializers each worker builds when it starts
	Progress     *Tracker      // nil unless crew.OnProgress was given
	custom       map[any]any
}

// NewConfig applies opts over the defaults and returns the first error an
// option reports (one wrapping ErrInvalidOption for a value out of
// range). Executors call it in their constructor, so that invalid options
// are refused there.
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

// Custom returns the value an executor-specific option stored under key.
func (c Config) Custom(key any) (any, bool) {
	v, ok := c.custom[key]
	return v, ok
}

// Policy returns the attempt policy the options ask for, with the grace
// period of Grace and progress on c.Progress.
func (c Config) Policy() Policy {
	return Policy{Timeout: c.Timeout, Retries: c.Retries, Backoff: c.RetryBackoff, Grace: Grace(c.Timeout), Progress: c.Progress}
}
