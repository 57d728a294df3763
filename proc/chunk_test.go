//go:build unix

package proc_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
)

// TestHundredThousandTinyTasks checks that batching keeps every one of many
// tiny calls in order and intact: no call lost, duplicated or mismatched.
func TestHundredThousandTinyTasks(t *testing.T) {
	const n = 100_000
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	next := 0
	for r := range crew.Map(t.Context(), ex, crewtest.Square, func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}) {
		if r.Err != nil {
			t.Fatalf("square(%d): %v", next, r.Err)
		}
		if r.Value != next*next {
			t.Fatalf("result %d = %d, want %d", next, r.Value, next*next)
		}
		next++
	}
	if next != n {
		t.Errorf("got %d results, want %d", next, n)
	}
}

// VictimArg names the input of victim that hangs, and where it says so.
type VictimArg struct {
	N      int    `json:"n"`
	Victim int    `json:"victim"`
	Dir    string `json:"dir"`
}

// victim squares N, except that the first attempt at N == Victim writes
// its pid to Dir/pid and hangs, and a retry (Dir/tried exists) squares.
var victim = crew.Register("proctest.victim", func(ctx context.Context, a VictimArg) (int, error) {
	if a.N != a.Victim {
		return a.N * a.N, nil
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "tried")); err == nil {
		return a.N * a.N, nil
	}
	if err := os.WriteFile(filepath.Join(a.Dir, "tried"), nil, 0o644); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(a.Dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return 0, err
	}
	<-ctx.Done()
	return 0, ctx.Err()
})

// TestChunkWorkerKilled kills a worker in the middle of a chunk: the
// element it was running fails with ErrWorkerDied (or, under Retries,
// succeeds on a retry), and every other element — before it in the same
// chunk, after it (sent back to the queue), on the other worker —
// completes, in order.
func TestChunkWorkerKilled(t *testing.T) {
	for _, retries := range []int{0, 1} {
		t.Run(fmt.Sprintf("retries=%d", retries), func(t *testing.T) {
			const n, victimAt = 3000, 1200
			ex := newPool(t, crew.Workers(2), crew.Retries(retries, time.Millisecond))
			defer ex.Close()
			dir := t.TempDir()
			in := func(yield func(VictimArg) bool) {
				for i := range n {
					if !yield(VictimArg{N: i, Victim: victimAt, Dir: dir}) {
						return
					}
				}
			}
			var yielded atomic.Int64
			killed := make(chan error, 1)
			go func() {
				// Kill once every input before the victim has come out of
				// the ordered Map, so that the element running is the
				// victim and no other, and once the victim has run long
				// enough for its worker to have said so (within about a
				// millisecond): a worker killed before that might have
				// been running any of the elements it was sent, which
				// then all run again.
				deadline := time.Now().Add(30 * time.Second)
				for {
					b, err := os.ReadFile(filepath.Join(dir, "pid"))
					p, _ := strconv.Atoi(string(b))
					if err == nil && p > 0 && yielded.Load() >= victimAt && ranFor(filepath.Join(dir, "pid")) > 50*time.Millisecond {
						killed <- syscall.Kill(p, syscall.SIGKILL)
						return
					}
					if time.Now().After(deadline) {
						killed <- fmt.Errorf("victim not reached: pid file %q, %d results", b, yielded.Load())
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			next := 0
			for r := range crew.Map(t.Context(), ex, victim, in) {
				if r.Index != next {
					t.Fatalf("result %d has index %d", next, r.Index)
				}
				next++
				yielded.Store(int64(next))
				if r.Index == victimAt && retries == 0 {
					if !errors.Is(r.Err, crew.ErrWorkerDied) || !strings.Contains(r.Err.Error(), "killed") {
						t.Errorf("the killed element: err = %v, want ErrWorkerDied mentioning the signal", r.Err)
					}
					continue
				}
				if r.Err != nil || r.Value != r.Index*r.Index {
					t.Errorf("element %d = %d, %v", r.Index, r.Value, r.Err)
				}
			}
			if next != n {
				t.Errorf("%d results, want %d", next, n)
			}
			if err := <-killed; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// spinOn squares its input, except for spinAt, which spins ignoring its
// context: only a kill stops it.
const spinAt = 150

var spinOn = crew.Register("proctest.spin-on", func(_ context.Context, n int) (int, error) {
	//lint:ignore SA5002 the task must ignore its context: only a kill stops it
	for n == spinAt {
	}
	return n * n, nil
})

// TestChunkTimeout: a runaway element inside a chunk is killed with its
// worker and fails with ErrTimeout; the rest of its chunk runs elsewhere.
func TestChunkTimeout(t *testing.T) {
	ex := newPool(t, crew.Workers(2), crew.Timeout(200*time.Millisecond))
	defer ex.Close()
	seen := 0
	for r := range crew.Map(t.Context(), ex, spinOn, slices.Values(rangeInts(400)), crew.Unordered()) {
		seen++
		if r.Index == spinAt {
			if !errors.Is(r.Err, crew.ErrTimeout) {
				t.Errorf("runaway element: err = %v, want ErrTimeout", r.Err)
			}
			continue
		}
		if r.Err != nil || r.Value != r.Index*r.Index {
			t.Errorf("element %d = %d, %v", r.Index, r.Value, r.Err)
		}
	}
	if seen != 400 {
		t.Errorf("%d results, want 400", seen)
	}
}

func rangeInts(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestHundredThousandTinyTasksUnordered: every index exactly once.
func TestHundredThousandTinyTasksUnordered(t *testing.T) {
	const n = 100_000
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	seen := make([]bool, n)
	count := 0
	for r := range crew.Map(t.Context(), ex, crewtest.Square, slices.Values(rangeInts(n)), crew.Unordered()) {
		if r.Err != nil || r.Value != r.Index*r.Index || seen[r.Index] {
			t.Fatalf("result %+v wrong or repeated", r)
		}
		seen[r.Index] = true
		count++
	}
	if count != n {
		t.Errorf("got %d results, want %d", count, n)
	}
}

// inverse returns 1/x: +Inf for 0, which JSON cannot carry.
var inverse = crew.Register("proctest.inverse", func(_ context.Context, x float64) (float64, error) { return 1 / x, nil })

// TestChunkEncodingFailures: an argument or a result that JSON cannot
// represent fails its own element; the rest of the chunk goes through.
func TestChunkEncodingFailures(t *testing.T) {
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	for _, c := range []struct {
		name string
		bad  float64 // the input at index 50
		want string  // in its error
	}{
		{"argument", math.NaN(), "encode argument"},
		{"result", 0, "encode result"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := make([]float64, 200)
			for i := range in {
				in[i] = float64(i + 1)
			}
			in[50] = c.bad
			n := 0
			for r := range crew.Map(t.Context(), ex, inverse, slices.Values(in)) {
				n++
				if r.Index == 50 {
					if r.Err == nil || !strings.Contains(r.Err.Error(), c.want) {
						t.Errorf("element 50 (%v): err = %v, want %q", c.bad, r.Err, c.want)
					}
					continue
				}
				if r.Err != nil || r.Value != 1/in[r.Index] {
					t.Errorf("element %d = %v, %v", r.Index, r.Value, r.Err)
				}
			}
			if n != len(in) {
				t.Errorf("%d results, want %d", n, len(in))
			}
		})
	}
}

// TestChunkBreakAndCancel leaves Maps with thousands of inputs in flight
// in chunks — by breaking out of the loop, and by cancelling the context
// — and checks that the pool drops them and goes on.
func TestChunkBreakAndCancel(t *testing.T) {
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	endless := func(yield func(int) bool) {
		for i := 0; ; i++ {
			if !yield(i % 1000) {
				return
			}
		}
	}
	got := 0
	for r := range crew.Map(t.Context(), ex, crewtest.Square, endless) {
		if r.Err != nil || r.Value != (r.Index%1000)*(r.Index%1000) {
			t.Fatalf("result %+v", r)
		}
		if got++; got == 20_000 {
			break
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got = 0
	for r := range crew.Map(ctx, ex, crewtest.Square, endless, crew.Unordered()) {
		if r.Err != nil && !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("result %+v", r)
		}
		if got++; got == 20_000 {
			cancel()
		}
	}
	if got < 20_000 {
		t.Errorf("cancelled Map yielded %d results", got)
	}
	if v, err := crew.Submit(t.Context(), ex, crewtest.Square, 12).Wait(t.Context()); err != nil || v != 144 {
		t.Errorf("after leaving two Maps, square(12) = %d, %v", v, err)
	}
}

// TestChunkPanics: a panic inside a chunk fails its own element with a
// *crew.PanicError carrying its value and the worker's stack; the
// elements around it succeed.
func TestChunkPanics(t *testing.T) {
	ex := newPool(t, crew.Workers(2))
	defer ex.Close()
	for r := range crew.Map(t.Context(), ex, panicOn, slices.Values(rangeInts(300))) {
		if r.Index%37 == 5 {
			var pe *crew.PanicError
			if !errors.As(r.Err, &pe) || r.Err.Error() != fmt.Sprintf("crew: task panicked: panic at %d", r.Index) || !strings.Contains(string(pe.Stack), "proc_test.go") {
				t.Errorf("element %d: err = %v, want ErrPanic with its value and a stack", r.Index, r.Err)
			}
		} else if r.Err != nil || r.Value != r.Index {
			t.Errorf("element %d = %d, %v", r.Index, r.Value, r.Err)
		}
	}
}

var panicOn = crew.Register("proctest.panic-on", func(_ context.Context, n int) (int, error) {
	if n%37 == 5 {
		panic(fmt.Sprintf("panic at %d", n))
	}
	return n, nil
})
