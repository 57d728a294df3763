package crew_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/crewtest"
	"github.com/crewrun/crew/executor"
)

// splitter is an executor that does in-process what package proc does
// across processes: it cuts each batch into ranges of random sizes, and
// its workers encode a range's arguments, decode and run them with
// executor.Lookup and Task.Decode under the attempt policy, and decode
// the results back — completing the ranges out of order, from several
// goroutines, successes in runs and failures one by one.
type splitter struct {
	policy   executor.Policy
	progress *executor.Tracker
	ranges   chan span
	wg       sync.WaitGroup
	mu       sync.RWMutex
	closed   bool
}

type span struct {
	b        executor.Batch
	from, to int
}

func newSplitter(opts ...crew.Option) (crew.Executor, error) {
	cfg, err := executor.NewConfig(opts...)
	if err != nil {
		return nil, err
	}
	s := &splitter{policy: cfg.Policy(), progress: cfg.Progress, ranges: make(chan span, 64)}
	for range cfg.Workers {
		s.wg.Add(1)
		go s.work(cfg.Inits)
	}
	return s, nil
}

func (s *splitter) Exec(b executor.Batch) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return crew.ErrClosed
	}
	s.progress.Submitted(b.Len())
	for from := 0; from < b.Len(); {
		to := min(b.Len(), from+1+rand.IntN(7))
		select {
		case s.ranges <- span{b, from, to}:
		case <-b.Context().Done():
			if from == 0 {
				s.progress.Withdrawn(b.Len())
				return b.Context().Err()
			}
			s.fail(span{b, from, b.Len()}, b.Context().Err())
			return nil
		}
		from = to
	}
	return nil
}

// fail completes r, which never ran, with err.
func (s *splitter) fail(r span, err error) {
	for range r.to - r.from {
		s.progress.Finished(false, err)
	}
	r.b.Complete(r.from, r.to, err)
}

func (s *splitter) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ranges)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *splitter) work(inits []string) {
	defer s.wg.Done()
	w, err := executor.NewWorker(context.Background(), inits)
	if err != nil {
		panic(err)
	}
	defer w.Close()
	for r := range s.ranges {
		s.runSpan(w.Context(r.b.Context()), r)
	}
}

func (s *splitter) runSpan(ctx context.Context, r span) {
	args, err := r.b.EncodeArgs(r.from, r.to)
	if err != nil {
		s.fail(r, err)
		return
	}
	task, err := executor.Lookup(r.b.Task())
	if err != nil {
		s.fail(r, err)
		return
	}
	eb, err := task.Decode(args)
	if err != nil {
		s.fail(r, err)
		return
	}
	if eb.Len() != r.to-r.from {
		panic("Decode changed the number of elements")
	}
	run := 0 // start of the current run of successes, relative to r.from
	ok := func(end int) {
		if run == end {
			return
		}
		vals, err := eb.AppendResults(nil, run, end)
		if err != nil {
			r.b.Complete(r.from+run, r.from+end, err)
			return
		}
		n, err := r.b.DecodeResults(r.from+run, r.from+end, vals)
		if err != nil || n != end-run {
			panic("DecodeResults: " + err.Error())
		}
		r.b.Complete(r.from+run, r.from+end, nil)
	}
	for i := range eb.Len() {
		err := ctx.Err()
		started := err == nil
		if started {
			s.progress.Started()
			err = s.policy.Run(ctx, eb, i)
		}
		s.progress.Finished(started, err)
		if err != nil {
			ok(i)
			r.b.Complete(r.from+i, r.from+i+1, err)
			run = i + 1
		}
	}
	ok(eb.Len())
}

// TestEncodedConformance runs the conformance suite through the codec,
// as an executor that crosses processes does.
func TestEncodedConformance(t *testing.T) {
	crewtest.Run(t, newSplitter)
}

var (
	label = crew.Register("batchtest.label", func(_ context.Context, s string) (string, error) {
		if strings.HasPrefix(s, "fail") {
			return "", errors.New("no label for " + s)
		}
		return "<" + s + ">", nil
	})
	half = crew.Register("batchtest.half", func(_ context.Context, f float64) (float64, error) { return f / 2, nil })
)

// TestBatchMapPerElement checks that failures inside chunks are reported
// on their own elements, in order and unordered, for results that take
// the hand-written codec (strings with and without escapes) and the
// encoding/json one (floats).
func TestBatchMapPerElement(t *testing.T) {
	ex, err := newSplitter(crew.Workers(3))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	var in []string
	for i := range 500 {
		switch i % 7 {
		case 3:
			in = append(in, "fail"+strings.Repeat("x", i%5))
		case 5:
			in = append(in, "é\"<\\n"+string(rune('a'+i%26)))
		default:
			in = append(in, "plain "+string(rune('a'+i%26)))
		}
	}
	for _, c := range []struct {
		ordered bool
		opts    []crew.MapOption
	}{{true, nil}, {false, []crew.MapOption{crew.Unordered()}}, {true, []crew.MapOption{crew.Window(5)}}} {
		seen := make([]bool, len(in))
		next := 0
		for r := range crew.Map(t.Context(), ex, label, slices.Values(in), c.opts...) {
			if c.ordered && r.Index != next {
				t.Fatalf("ordered Map yielded index %d, want %d", r.Index, next)
			}
			next++
			if seen[r.Index] {
				t.Fatalf("index %d yielded twice", r.Index)
			}
			seen[r.Index] = true
			s := in[r.Index]
			if strings.HasPrefix(s, "fail") {
				if r.Err == nil || !strings.Contains(r.Err.Error(), s) || r.Value != "" {
					t.Errorf("label(%q) = %q, %v; want its own error", s, r.Value, r.Err)
				}
			} else if r.Err != nil || r.Value != "<"+s+">" {
				t.Errorf("label(%q) = %q, %v", s, r.Value, r.Err)
			}
		}
		if next != len(in) {
			t.Errorf("Map yielded %d results, want %d", next, len(in))
		}
	}
	i := 0
	for r := range crew.Map(t.Context(), ex, half, func(yield func(float64) bool) {
		for i := range 300 {
			if !yield(float64(i) + 0.5) {
				return
			}
		}
	}) {
		if want := (float64(i) + 0.5) / 2; r.Err != nil || r.Value != want {
			t.Fatalf("half[%d] = %v, %v; want %v", i, r.Value, r.Err, want)
		}
		i++
	}
}

// decodeBatch decodes args for the task registered as name.
func decodeBatch(name string, args []byte) (executor.Decoded, error) {
	task, err := executor.Lookup(name)
	if err != nil {
		return nil, err
	}
	return task.Decode(args)
}

// TestDecodeErrors: an unknown task and undecodable arguments.
func TestDecodeErrors(t *testing.T) {
	if _, err := decodeBatch("batchtest.no-such-task", []byte("[1]")); !errors.Is(err, crew.ErrUnknownTask) {
		t.Errorf("unknown task: err = %v", err)
	}
	if _, err := decodeBatch(label.Name(), []byte("[1,2]")); err == nil || !crew.IsPermanent(err) {
		t.Errorf("ints for a string task: err = %v, want a permanent decode error", err)
	}
	b, err := decodeBatch(half.Name(), []byte(" [1, 2.5e1 ,-3]"))
	if err != nil || b.Len() != 3 {
		t.Fatalf("DecodeBatch with spaces and exponents = %v, %v", b, err)
	}
	for i := range b.Len() {
		if err := b.Run(t.Context(), i); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.AppendResults([]byte("x"), 0, 3)
	if err != nil || string(out) != "x[0.5,12.5,-1.5]" {
		t.Errorf("AppendResults = %s, %v", out, err)
	}
}

// TestBatchCodecMatchesEncodingJSON checks the hand-written array codec
// (through DecodeBatch and AppendResults) against encoding/json on inputs
// at and around its edges.
func TestBatchCodecMatchesEncodingJSON(t *testing.T) {
	ints := []string{
		`[]`, `[0]`, `[-0]`, `[1,2,3]`, `[9223372036854775807]`, `[-9223372036854775808]`,
		`[9223372036854775808]`, `[-9223372036854775809]`, `[01]`, `[1.0]`, `[1e3]`, `[-]`,
		`[1,]`, `[,1]`, `[ 1]`, `[null]`, `[1,null]`, `["1"]`, `[1]x`, `[12345678901234567890]`,
	}
	strs := []string{
		`[]`, `[""]`, `["a","b c"]`, `["\u00e9"]`, `["é"]`, `["a\"b"]`, `["<&>"]`, `["\n"]`,
		`["a",1]`, `["a" ]`, `["a"`, `[null]`, "[\"\xff\"]", `["a","b"]`,
	}
	check := func(task string, data string, decode func([]byte) (any, error)) {
		t.Helper()
		want, wantErr := decode([]byte(data))
		b, err := decodeBatch(task, []byte(data))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%s %s: DecodeBatch err = %v, encoding/json err = %v", task, data, err, wantErr)
			return
		}
		if err != nil {
			return
		}
		for i := range b.Len() {
			b.Run(t.Context(), i)
		}
		got, err := b.AppendResults(nil, 0, b.Len())
		if err != nil {
			t.Fatal(err)
		}
		wantOut, _ := json.Marshal(want)
		if string(got) != string(wantOut) {
			t.Errorf("%s %s: results %s, want %s", task, data, got, wantOut)
		}
	}
	for _, d := range ints {
		check(identityInt.Name(), d, func(b []byte) (any, error) {
			var v []int
			err := json.Unmarshal(b, &v)
			if v == nil {
				v = []int{}
			}
			return v, err
		})
	}
	for _, d := range strs {
		check(identityString.Name(), d, func(b []byte) (any, error) {
			var v []string
			err := json.Unmarshal(b, &v)
			if v == nil {
				v = []string{}
			}
			return v, err
		})
	}
}

var (
	identityInt    = crew.Register("batchtest.identity-int", func(_ context.Context, n int) (int, error) { return n, nil })
	identityString = crew.Register("batchtest.identity-string", func(_ context.Context, s string) (string, error) { return s, nil })
)

func FuzzBatchCodec(f *testing.F) {
	f.Add([]byte(`[1,-2,30]`), []byte(`["a","b"]`))
	f.Add([]byte(`[01]`), []byte(`["\u00e9"]`))
	f.Fuzz(func(t *testing.T, ints, strs []byte) {
		for _, c := range []struct {
			task string
			data []byte
			std  func([]byte) ([]byte, error)
		}{
			{identityInt.Name(), ints, func(b []byte) ([]byte, error) {
				var v []int
				if err := json.Unmarshal(b, &v); err != nil {
					return nil, err
				}
				return json.Marshal(append([]int{}, v...))
			}},
			{identityString.Name(), strs, func(b []byte) ([]byte, error) {
				var v []string
				if err := json.Unmarshal(b, &v); err != nil {
					return nil, err
				}
				return json.Marshal(append([]string{}, v...))
			}},
		} {
			want, wantErr := c.std(c.data)
			b, err := decodeBatch(c.task, c.data)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%s %q: DecodeBatch err = %v, encoding/json err = %v", c.task, c.data, err, wantErr)
			}
			if err != nil {
				continue
			}
			for i := range b.Len() {
				b.Run(t.Context(), i)
			}
			got, err := b.AppendResults(nil, 0, b.Len())
			if err != nil || string(got) != string(want) {
				t.Fatalf("%s %q: round trip %s, %v; encoding/json %s", c.task, c.data, got, err, want)
			}
		}
	})
}
