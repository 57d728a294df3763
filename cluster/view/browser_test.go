package view_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/cluster/view"
	"github.com/crewrun/crew/crewtest"
	"github.com/crewrun/crew/internal/browsertest"
)

// TestBrowser loads the page in headless Chromium during a run, sees the
// job and worker rows update, unlocks control with the token, cancels the
// job with its button and sees its calls fail with ErrJobCancelled; it
// saves a screenshot (go test -artifacts keeps it).
func TestBrowser(t *testing.T) {
	chromium := browsertest.Chromium(t)
	s := serve(t, cluster.ServerConfig{Token: token})
	work(t, s.nats, 2, cluster.Token(token), cluster.Batch(1))
	ctx := t.Context()
	ex, err := cluster.New(ctx, s.nats, cluster.Token(token), cluster.Label("sleepers"))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	id := jobID(t, s.ui, "sleepers")
	// A failure to list, then a long run of 40 ms tasks: 4 slots take
	// 20 s for 2000 of them, far longer than the test needs.
	if _, err := crew.Submit(ctx, ex, crewtest.Half, 7).Wait(ctx); err == nil {
		t.Fatal("Half(7) did not fail")
	}
	results := make(chan error, 1)
	go func() {
		var first error
		for r := range crew.Map(ctx, ex, crewtest.Sleep, repeat(40, 2000), crew.Unordered()) {
			if r.Err != nil && first == nil {
				first = r.Err
			}
		}
		results <- first
	}()

	bctx := browser(t, ctx, chromium)

	row := `tr[data-job="` + id + `"]`
	doneCell := row + ` td[data-col="done"]`
	if err := chromedp.Do(bctx, chromedp.Navigate(s.ui), chromedp.WaitVisible(chromedp.CSS(doneCell)), chromedp.WaitVisible(chromedp.CSS(`tr[data-worker]`))); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	// The rows update: the job's done count and the workers' grow.
	first := number(t, bctx, doneCell)
	firstWorkers := number(t, bctx, `#workers tbody`)
	waitPage(t, bctx, "the job's done count to grow past "+strconv.Itoa(first), func() bool { return number(t, bctx, doneCell) > first })
	waitPage(t, bctx, "the workers' done counts to grow", func() bool { return number(t, bctx, `#workers tbody`) > firstWorkers })
	if workers, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("tr[data-worker]").length`)); err != nil || workers != 2 {
		t.Errorf("%d worker rows, %v", workers, err)
	}
	if failure := text(t, bctx, `[data-failures="`+id+`"] .err`); !strings.Contains(failure, "7 is odd") {
		t.Errorf("failure shown: %q", failure)
	}

	// Locked, the cancel button is disabled; a wrong token does not
	// unlock; the right one does.
	button := `button[data-cancel="` + id + `"]`
	if enabled(t, bctx, button) {
		t.Error("the cancel button is enabled before the token was given")
	}
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS(`#token`), "wrong"), chromedp.Click(chromedp.CSS(`#unlock`)), chromedp.WaitVisible(chromedp.CSS(`#toast.bad`))); err != nil {
		t.Fatalf("wrong token: %v", err)
	}
	if enabled(t, bctx, button) {
		t.Error("a wrong token unlocked control")
	}
	if err := chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("#token").value = ""`), chromedp.SendKeys(chromedp.CSS(`#token`), token), chromedp.Click(chromedp.CSS(`#unlock`)), chromedp.WaitVisible(chromedp.CSS(`#lock`))); err != nil {
		t.Fatalf("unlocking: %v", err)
	}
	waitPage(t, bctx, "the cancel button enabled", func() bool { return enabled(t, bctx, button) })
	shot := filepath.Join(t.ArtifactDir(), "live-view.png")
	screenshot(t, bctx, shot)

	// Cancel: the first click asks to confirm, the second cancels.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(button))); err != nil {
		t.Fatal(err)
	}
	waitPage(t, bctx, "the button to ask for confirmation", func() bool { return text(t, bctx, button) == "confirm cancel" })
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(button))); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-results:
		if !errors.Is(err, cluster.ErrJobCancelled) || !errors.Is(err, context.Canceled) {
			t.Errorf("the run ended with %v, want ErrJobCancelled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the run did not end a minute after the cancel")
	}
	waitPage(t, bctx, "the job shown cancelled", func() bool { return text(t, bctx, row+` .badge`) == view.Cancelled })
	screenshot(t, bctx, filepath.Join(t.ArtifactDir(), "live-view-cancelled.png"))
	t.Logf("screenshots in %s", filepath.Dir(shot))
}

// browser starts headless Chromium for the test, for two minutes at most.
func browser(t *testing.T, ctx context.Context, chromium string) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	bctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return bctx
}

func repeat(v, n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for range n {
			if !yield(v) {
				return
			}
		}
	}
}

// number sums the numbers (with thousands separators) in the cells
// labelled done under sel.
func number(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	js := `Array.from(document.querySelectorAll(` + strconv.Quote(sel) + `)).flatMap(e => e.matches('td[data-col="done"]') ? [e] : Array.from(e.querySelectorAll('td[data-col="done"]'))).map(e => e.textContent)`
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, s := range texts {
		n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
		if err != nil {
			t.Fatalf("%s: %q is no count", sel, s)
		}
		sum += n
	}
	return sum
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+strconv.Quote(sel)+`) || {}).textContent || ""`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func enabled(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector(`+strconv.Quote(sel)+`) && !document.querySelector(`+strconv.Quote(sel)+`).disabled`))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// waitPage polls ok until it holds, for 30 s.
func waitPage(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed %s", what)
		}
		if err := chromedp.Do(ctx, chromedp.Sleep(100*time.Millisecond)); err != nil { // polling a condition with a deadline
			t.Fatal(err)
		}
	}
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
