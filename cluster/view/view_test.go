package view_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/cluster/view"
	"github.com/crewrun/crew/crewtest"
)

const token = "view-s3cret"

// TestLiveView drives a real cluster.Serve with the view on, two workers
// and two executors, and checks the JSON behind the page against what was
// run: exact counts, the failures with their errors, workers, a job
// cancelled from the page (its calls fail with ErrJobCancelled) and a
// rerun; and the metrics.
func TestLiveView(t *testing.T) {
	s := serve(t, cluster.ServerConfig{Token: token})
	// Batch 1: each worker holds at most 3 tasks (2 slots and 1 ahead),
	// so that both run job b's blocked tasks.
	work(t, s.nats, 2, cluster.Token(token), cluster.Batch(1))
	ctx := t.Context()

	a, err := cluster.New(ctx, s.nats, cluster.Token(token), cluster.Label("squares"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := cluster.New(ctx, s.nats, cluster.Token(token), cluster.Label("blocked"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	aID, bID := jobID(t, s.ui, "squares"), jobID(t, s.ui, "blocked")

	// Job a: 200 squares and 10 onceOdd calls, 5 of which fail.
	const squares = 200
	for r := range crew.Map(ctx, a, crewtest.Square, ints(squares)) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	var odd []*crew.Future[int]
	for n := range 10 {
		odd = append(odd, crew.Submit(ctx, a, onceOdd, 100+n))
	}
	for i, f := range odd {
		_, err := f.Wait(ctx)
		if (i%2 == 1) != (err != nil) {
			t.Fatalf("onceOdd(%d): %v", 100+i, err)
		}
	}

	// Rerun a failure of job a: onceOdd succeeds the second time. (Before
	// job b blocks every worker slot.)
	pa := waitState(t, s.ui, "job a's failures", func(p view.Page) bool {
		j, _ := job(p, aID)
		return len(j.Failures) == 5
	})
	jaf, _ := job(pa, aID)
	failed := jaf.Failures[0]
	status, body := control(t, s.ui, "api/jobs/"+aID+"/rerun/"+failed.ID, token)
	if status != http.StatusOK || !strings.Contains(body, failed.ID+"~r") {
		t.Fatalf("rerun: %d %s", status, body)
	}
	waitState(t, s.ui, "the rerun's outcome", func(p view.Page) bool {
		j, _ := job(p, aID)
		for _, f := range j.Failures {
			if f.ID == failed.ID && len(f.Reruns) == 1 && f.Reruns[0].OK {
				return j.Reruns == 1 && j.RerunsOK == 1 && j.Done == squares+5 && j.Failed == 5
			}
		}
		return false
	})

	// Job b: 10 calls that block until cancelled; 4 run (2 workers × 2
	// slots), the others wait.
	var blocked []*crew.Future[int]
	for n := range 10 {
		blocked = append(blocked, crew.Submit(ctx, b, crewtest.Block, n))
	}
	p := waitState(t, s.ui, "job a's counts and job b's tasks in flight", func(p view.Page) bool {
		ja, _ := job(p, aID)
		jb, _ := job(p, bID)
		busy := int64(0)
		for _, w := range p.Workers {
			busy += w.Busy
		}
		return ja.Done == squares+5 && ja.Failed == 5 && jb.Queued+jb.InFlight == 10 && busy == 4 && ja.RerunsOK == 1
	})
	ja, _ := job(p, aID)
	if ja.Submitted != squares+10 || ja.Cancelled != 0 || ja.Retried != 0 || ja.Reruns != 1 || ja.State != view.Running {
		t.Errorf("job a: submitted %d, cancelled %d, retried %d, state %s; want %d, 0, 0, running", ja.Submitted, ja.Cancelled, ja.Retried, ja.State, squares+10)
	}
	host, _ := os.Hostname()
	if ja.Program != filepath.Base(os.Args[0]) || ja.Host != host || ja.PID != os.Getpid() || ja.Label != "squares" {
		t.Errorf("job a was submitted by %q on %q pid %d, label %q", ja.Program, ja.Host, ja.PID, ja.Label)
	}
	if !slices.Contains(ja.Tasks, "crewtest.square") || !slices.Contains(ja.Tasks, "viewtest.once-odd") {
		t.Errorf("job a's tasks: %v", ja.Tasks)
	}
	if ja.Duration.Total() != squares+10 || ja.P50 <= 0 || ja.P99 < ja.P50 {
		t.Errorf("job a's durations: %d counted, p50 %v, p99 %v", ja.Duration.Total(), ja.P50, ja.P99)
	}
	if ja.Rate <= 0 {
		t.Errorf("job a's rate: %v", ja.Rate)
	}
	var sparked int64
	for _, n := range ja.Spark {
		sparked += n
	}
	if len(ja.Spark) != view.SparkSeconds || sparked > squares+10 {
		t.Errorf("job a's spark: %v", ja.Spark)
	}
	if len(ja.Failures) != 5 {
		t.Fatalf("job a lists %d failures, want 5: %+v", len(ja.Failures), ja.Failures)
	}
	for _, f := range ja.Failures {
		if f.Task != "viewtest.once-odd" || !strings.Contains(f.Error, " is odd\nsecond line of the error") || f.Attempts != 1 ||
			!strings.HasPrefix(f.Worker, host+":") || !f.Retryable || time.Since(f.Time) > time.Minute {
			t.Errorf("failure %+v", f)
		}
	}
	if len(p.Workers) != 2 {
		t.Errorf("%d workers shown, want 2", len(p.Workers))
	}
	for _, w := range p.Workers {
		if w.Slots != 2 || w.Host != host || w.PID != os.Getpid() || w.Quiet || w.Draining || !slices.Contains(w.Tasks, "crewtest.block") {
			t.Errorf("worker %+v", w)
		}
	}
	if p.Control != view.ControlToken {
		t.Errorf("control %q, want %q", p.Control, view.ControlToken)
	}

	// The page never carries the token.
	for _, path := range []string{"", "api/state", "assets/app.js"} {
		resp, err := http.Get(s.ui + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), token) {
			t.Errorf("/%s shows the token", path)
		}
	}

	// A page elsewhere that made its name resolve to 127.0.0.1 (DNS
	// rebinding) reaches neither the state nor control.
	for _, method := range []string{"GET", "POST"} {
		path := "api/state"
		if method == "POST" {
			path = "api/jobs/" + bID + "/cancel"
		}
		req, _ := http.NewRequest(method, s.ui+path, nil)
		req.Host = "rebind.example:" + req.URL.Port()
		req.Header.Set("X-Crew-Control", "1")
		req.Header.Set("Origin", "http://"+req.Host)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("%s /%s as Host %s: %d, want %d", method, path, req.Host, resp.StatusCode, http.StatusMisdirectedRequest)
		}
	}

	// Control needs the token, and the page's header.
	cancelPath := "api/jobs/" + bID + "/cancel"
	for _, tc := range []struct {
		token   string
		headers []string
		want    int
	}{
		{"", nil, http.StatusUnauthorized},
		{"wrong", nil, http.StatusUnauthorized},
		{token, []string{"X-Crew-Control", ""}, http.StatusForbidden},
		{token, []string{"Origin", "http://evil.example"}, http.StatusForbidden},
	} {
		if status, body := control(t, s.ui, cancelPath, tc.token, tc.headers...); status != tc.want {
			t.Errorf("cancel with token %q, headers %q: %d %s, want %d", tc.token, tc.headers, status, body, tc.want)
		}
	}
	if _, err := job(state(t, s.ui), bID); !err {
		t.Fatal("job b vanished")
	}

	// Cancel job b from the page: its calls fail with ErrJobCancelled.
	status, body = control(t, s.ui, cancelPath, token)
	if status != http.StatusOK || !strings.Contains(body, "10 pending call(s)") {
		t.Fatalf("cancel: %d %s", status, body)
	}
	for i, f := range blocked {
		_, err := f.Wait(ctx)
		if !errors.Is(err, cluster.ErrJobCancelled) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled from outside (by the live view") {
			t.Errorf("blocked call %d: %v", i, err)
		}
	}
	if _, err := crew.Submit(ctx, b, crewtest.Square, 1).Wait(ctx); !errors.Is(err, cluster.ErrJobCancelled) {
		t.Errorf("a call after the cancel: %v", err)
	}
	p = waitState(t, s.ui, "job b cancelled, its tasks gone, the workers idle", func(p view.Page) bool {
		jb, _ := job(p, bID)
		busy := int64(0)
		for _, w := range p.Workers {
			busy += w.Busy
		}
		return jb.State == view.Cancelled && jb.Cancelled == 10 && jb.Queued == 0 && jb.InFlight == 0 && busy == 0
	})
	if jb, _ := job(p, bID); jb.Done != 0 || jb.Failed != 0 || jb.Submitted != 10 || !strings.Contains(jb.Reason, "the live view") {
		t.Errorf("job b: %+v", jb)
	}
	if status, _ := control(t, s.ui, cancelPath, token); status != http.StatusConflict {
		t.Errorf("cancelling an ended job: %d", status)
	}

	// The metrics say the same.
	resp, err := http.Get(s.metrics)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`crew_tasks_total{job=%q,state="done"} %d`, aID, squares+5),
		fmt.Sprintf(`crew_tasks_total{job=%q,state="failed"} 5`, aID),
		fmt.Sprintf(`crew_tasks_total{job=%q,state="cancelled"} 10`, bID),
		fmt.Sprintf(`crew_task_duration_seconds_count{job=%q} %d`, aID, squares+10),
		fmt.Sprintf(`crew_task_redeliveries_total{job=%q} 0`, aID),
		fmt.Sprintf(`crew_queue_depth{job=%q,task="crewtest.square"} 0`, aID),
		`crew_workers{state="live"} 2`,
		`crew_worker_slots{state="total"} 4`,
		`crew_jobs{state="cancelled"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Closing job a ends it, with its counts.
	a.Close()
	waitState(t, s.ui, "job a finished", func(p view.Page) bool {
		j, _ := job(p, aID)
		return j.State == view.Finished && j.Done == squares+5 && j.Failed == 5 && !j.Ended.IsZero() && !j.Failures[0].Retryable
	})
}

func ints(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}
