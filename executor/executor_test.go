package executor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/executor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var double = crew.Register("executortest.double", func(_ context.Context, n int) (int, error) { return 2 * n, nil })

func TestRetryDelay(t *testing.T) {
	p := executor.Policy{Retries: 5, Backoff: 100 * time.Millisecond}
	for retry, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 30: time.Minute} {
		for range 50 {
			if d := p.RetryDelay(retry); d < base/2 || d > base {
				t.Fatalf("RetryDelay(%d) = %v, want within [%v, %v]", retry, d, base/2, base)
			}
		}
	}
}

func TestRemoteErrorKeepsSentinels(t *testing.T) {
	for _, sentinel := range []error{executor.ErrPanic, executor.ErrTimeout, executor.ErrWorkerDied, executor.ErrClosed, executor.ErrUnknownTask} {
		wire := executor.ToRemote(errors.Join(errors.New("context"), sentinel))
		if err := wire.Err(); !errors.Is(err, sentinel) {
			t.Errorf("%v lost its identity over the wire: %v", sentinel, err)
		}
	}
	if err := executor.ToRemote(executor.Permanent(errors.New("bad input"))).Err(); !executor.IsPermanent(err) || err.Error() != "bad input" {
		t.Errorf("Permanent over the wire = %v (permanent %v)", err, executor.IsPermanent(err))
	}
	if executor.ToRemote(nil) != nil || (*executor.RemoteError)(nil).Err() != nil {
		t.Error("nil error does not round-trip to nil")
	}
}

// TestRemotePanic: a panic crosses as its value and stack and comes back
// a *PanicError with the same one-line message, also wrapped.
func TestRemotePanic(t *testing.T) {
	_, local := executor.Invoke(t.Context(), func(context.Context, int) (int, error) { panic("line one\nline two") }, 0)
	wire := executor.ToRemote(local)
	if wire.Kind != executor.KindPanic || wire.Value != "line one\nline two" || !strings.Contains(wire.Stack, "executor_test") {
		t.Fatalf("wire form %+v", wire)
	}
	var pe *executor.PanicError
	back := wire.Err()
	if !errors.As(back, &pe) || back.Error() != local.Error() || pe.Value != "line one\nline two" || len(pe.Stack) == 0 {
		t.Errorf("back from the wire: %v (%T) %+v; want a PanicError saying %q", back, back, pe, local)
	}
	if strings.Contains(back.Error(), "\n") {
		t.Errorf("Error() %q is not one line", back)
	}
	wrapped := executor.ToRemote(errors.Join(errors.New("while testing"), local)).Err()
	if !errors.As(wrapped, &pe) || !errors.Is(wrapped, executor.ErrPanic) || !strings.Contains(wrapped.Error(), "while testing") {
		t.Errorf("wrapped panic back from the wire: %v", wrapped)
	}
}

func TestToRemoteKeepsPermanent(t *testing.T) {
	wire := &executor.RemoteError{Kind: executor.KindPermanent, Message: "bad input"}
	if again := executor.ToRemote(wire.Err()); again.Kind != executor.KindPermanent || !executor.IsPermanent(again.Err()) {
		t.Errorf("ToRemote(wire.Err()) = %+v: no longer permanent", again)
	}
	inner := executor.ToRemote(errors.New("no such user")).Err()
	if w := executor.ToRemote(executor.Permanent(inner)); w.Kind != executor.KindPermanent {
		t.Errorf("ToRemote(Permanent(remote error)).Kind = %q, want %q", w.Kind, executor.KindPermanent)
	}
}

func TestLookupAndDecode(t *testing.T) {
	task, err := executor.Lookup(double.Name())
	if err != nil {
		t.Fatal(err)
	}
	d, err := task.Decode([]byte("[1,2,3]"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range d.Len() {
		if err := d.Run(t.Context(), i); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := d.AppendResults(nil, 0, 3); err != nil || string(out) != "[2,4,6]" {
		t.Errorf("results %s, %v", out, err)
	}
	if _, err := task.Decode([]byte(`["seven"]`)); !executor.IsPermanent(err) {
		t.Errorf("undecodable argument err = %v, want a permanent error", err)
	}
	if _, err := executor.Lookup("no.such.task"); !errors.Is(err, executor.ErrUnknownTask) {
		t.Errorf("unknown task err = %v", err)
	}
	if !slices.Contains(executor.Tasks(), double.Name()) {
		t.Errorf("Tasks() = %v lacks %s", executor.Tasks(), double.Name())
	}
}

// counter is a Runner whose element fails until it has run fails times.
type counter struct {
	runs  atomic.Int64
	fails int64
	err   error
}

func (c *counter) Run(ctx context.Context, _ int) error {
	if c.runs.Add(1) <= c.fails {
		return c.err
	}
	return nil
}

func (c *counter) Try(ctx context.Context, i int) (func(), error) {
	if err := c.Run(ctx, i); err != nil {
		return nil, err
	}
	return func() {}, nil
}

func TestPolicyRetries(t *testing.T) {
	p := executor.Policy{Retries: 2, Backoff: time.Millisecond}
	for _, c := range []struct {
		name  string
		c     *counter
		runs  int64
		fails bool
	}{
		{"recovers", &counter{fails: 2, err: errors.New("flaky")}, 3, false},
		{"gives up", &counter{fails: 5, err: errors.New("flaky")}, 3, true},
		{"permanent", &counter{fails: 5, err: executor.Permanent(errors.New("bad"))}, 1, true},
		{"unknown task", &counter{fails: 5, err: executor.ErrUnknownTask}, 1, true},
	} {
		var retries []int
		p.BeforeRetry = func(attempt int, _ time.Duration) { retries = append(retries, attempt) }
		err := p.Run(t.Context(), c.c, 0)
		if (err != nil) != c.fails || c.c.runs.Load() != c.runs || len(retries) != int(c.runs-1) {
			t.Errorf("%s: err %v after %d runs (retries announced %v); want %d runs", c.name, err, c.c.runs.Load(), retries, c.runs)
		}
	}
	// An element that had attempts elsewhere gets only the rest.
	c := &counter{fails: 5, err: errors.New("flaky")}
	p.BeforeRetry = nil
	if err := p.RunFrom(t.Context(), c, 0, 3); err == nil || c.runs.Load() != 1 {
		t.Errorf("RunFrom attempt 3 of 3: %d runs, %v", c.runs.Load(), err)
	}
}

// sleeper ignores its context.
type sleeper struct{ d time.Duration }

func (s sleeper) Run(context.Context, int) error { time.Sleep(s.d); return nil }
func (s sleeper) Try(ctx context.Context, i int) (func(), error) {
	return func() { panic("the value of an abandoned attempt was kept") }, s.Run(ctx, i)
}

func TestPolicyAbandons(t *testing.T) {
	var last executor.Progress
	tr := executor.NewTracker(func(p executor.Progress) { last = p })
	p := executor.Policy{Timeout: 50 * time.Millisecond, Grace: 50 * time.Millisecond, Progress: tr}
	start := time.Now()
	err := p.Run(t.Context(), sleeper{400 * time.Millisecond}, 0)
	if d := time.Since(start); !errors.Is(err, executor.ErrTimeout) || d > 300*time.Millisecond {
		t.Errorf("attempt ignoring its context: %v after %v; want ErrTimeout after about 100ms", err, d)
	}
	if tr.Snapshot().Abandoned != 1 {
		t.Errorf("Abandoned = %d while the attempt runs on, want 1", tr.Snapshot().Abandoned)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tr.Snapshot().Abandoned != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if last.Abandoned != 0 {
		t.Errorf("Abandoned = %d after the attempt returned, want 0", last.Abandoned)
	}
}
