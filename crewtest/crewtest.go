// Package crewtest is the conformance suite every crew executor passes:
// the contract of package crew, checked the same way on every executor.
// It covers results and ordering, unordered completion, errors, panics
// (*crew.PanicError with a one-line message and the stack), per-task
// timeouts even for tasks that ignore their context, retries and
// Permanent errors, cancellation (a Map whose context ends says so in a
// last Result), initializers, OnProgress counts, invalid options refused
// at construction, Close and ErrClosed, argument types that cannot cross
// a process refused at Register, a 100k-input Map in bounded memory, and
// goroutine leaks.
//
// An executor's tests call Run with the executor's constructor:
//
//	func TestConformance(t *testing.T) {
//		crewtest.Run(t, proc.New)
//	}
//
// Executors that run tasks in other processes must run the same test
// binary there, so that the suite's tasks (registered in this package)
// are known to the workers; a worker in another language implements
// them by name (proc/testdata/pyworker.py does).
package crewtest

import (
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/crewrun/crew"
)

// NewExecutor makes a fresh executor configured with opts, or fails as
// the executor's constructor does (an error, or a panic for Goroutines).
type NewExecutor func(opts ...crew.Option) (crew.Executor, error)

// An Option adjusts Run.
type Option func(skips map[string]string)

// Skip skips the named check (a subtest name, "Map100k") with the reason
// why: a check too slow for a configuration, say. Skip only what cannot
// run; a check that fails is a defect.
func Skip(check, why string) Option {
	return func(skips map[string]string) { skips[check] = why }
}

// Run runs the whole suite against executors made by newExecutor, each
// check in its own subtest (select some with go test -run).
func Run(t *testing.T, newExecutor NewExecutor, opts ...Option) {
	skips := map[string]string{}
	for _, o := range opts {
		o(skips)
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, NewExecutor)
	}{
		{"Submit", testSubmit},
		{"MapOrdered", testMapOrdered},
		{"MapUnordered", testMapUnordered},
		{"Errors", testErrors},
		{"Panics", testPanics},
		{"Timeout", testTimeout},
		{"TimeoutIgnored", testTimeoutIgnored},
		{"Retries", testRetries},
		{"PermanentNotRetried", testPermanent},
		{"CancelSubmit", testCancelSubmit},
		{"CancelMap", testCancelMap},
		{"DeadlineMap", testDeadlineMap},
		{"BreakMap", testBreakMap},
		{"Initializers", testInitializers},
		{"Progress", testProgress},
		{"ProgressCancelled", testProgressCancelled},
		{"InvalidOptions", testInvalidOptions},
		{"Close", testClose},
		{"UncrossableTypes", testUncrossable},
		{"Map100k", testMap100k},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if why, ok := skips[tc.name]; ok {
				t.Skip(why)
			}
			leaks := goleak.IgnoreCurrent()
			tc.fn(t, newExecutor)
			noLeaks(t, leaks)
		})
	}
}

// noLeaks waits up to 10 s for the goroutines a check started to end:
// a task abandoned under Timeout runs on until it returns.
func noLeaks(t *testing.T, opts ...goleak.Option) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if goleak.Find(opts...) == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	goleak.VerifyNone(t, opts...)
}

// open makes an executor that the test closes (Close is called twice on
// purpose: it must be idempotent).
func open(t *testing.T, newExecutor NewExecutor, opts ...crew.Option) crew.Executor {
	t.Helper()
	ex, err := newExecutor(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ex.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	return ex
}

func closeEx(t *testing.T, ex crew.Executor) {
	t.Helper()
	if err := ex.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func ints(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

// waitFor polls cond until it holds or 30 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("%s: not reached in 30s", what)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// oneLine reports whether an error message fits on one log line.
func oneLine(err error) bool { return err != nil && !strings.ContainsAny(err.Error(), "\r\n") }

// constructs reports whether newExecutor(opts...) made an executor, and
// the error or panic with which it refused otherwise.
func constructs(newExecutor NewExecutor, opts ...crew.Option) (ex crew.Executor, refusal error) {
	defer func() {
		if v := recover(); v != nil {
			ex, refusal = nil, panicked{v}
		}
	}()
	return newExecutor(opts...)
}

// panicked is a constructor's panic, as an error.
type panicked struct{ v any }

func (p panicked) Error() string { return fmt.Sprint("panic: ", p.v) }

// watchProgress returns an OnProgress option that records every update.
func watchProgress() (crew.Option, *progressLog) {
	l := &progressLog{}
	return crew.OnProgress(func(p crew.Progress) {
		l.mu.Lock()
		l.all = append(l.all, p)
		l.mu.Unlock()
	}), l
}

type progressLog struct {
	mu  sync.Mutex
	all []crew.Progress
}

// snapshot returns the updates so far.
func (l *progressLog) snapshot() []crew.Progress {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.all)
}
