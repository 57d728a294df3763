package view_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/crewrun/crew"
	"github.com/crewrun/crew/cluster"
	"github.com/crewrun/crew/crewtest"
	"github.com/crewrun/crew/internal/browsertest"
)

// TestPageUpdatesInPlace: the page's updates (every second) change the
// numbers in the elements that show them and keep the elements. When
// they rebuilt the tables instead, a click on a button pressed across an
// update was lost (the button under the pointer was a new one by the
// release), and an error's text selected to be copied was unselected
// within the second.
func TestPageUpdatesInPlace(t *testing.T) {
	chromium := browsertest.Chromium(t)
	s := serve(t, cluster.ServerConfig{})
	work(t, s.nats, 2, cluster.Batch(1))
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	ex, err := cluster.New(ctx, s.nats, cluster.Label("in place"))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	id := jobID(t, s.ui, "in place")
	if _, err := crew.Submit(ctx, ex, crewtest.Half, 7).Wait(ctx); err == nil {
		t.Fatal("Half(7) did not fail")
	}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		for range crew.Map(ctx, ex, crewtest.Sleep, repeat(40, 2000), crew.Unordered()) {
		}
	}()
	defer func() { stop(); <-ran }()

	bctx := browser(t, ctx, chromium)
	row := `tr[data-job="` + id + `"]`
	doneCell := row + ` td[data-col="done"]`
	errCell := `[data-failures="` + id + `"] .err`
	button := `button[data-cancel="` + id + `"]`
	if err := chromedp.Do(bctx, chromedp.Navigate(s.ui), chromedp.WaitVisible(chromedp.CSS(doneCell)), chromedp.WaitVisible(chromedp.CSS(errCell))); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	// Hold on to the elements, and select the error's text as a user
	// about to copy it would.
	keep := `(() => {
		window.kept = {row: document.querySelector(` + strconv.Quote(row) + `), button: document.querySelector(` + strconv.Quote(button) + `),
			err: document.querySelector(` + strconv.Quote(errCell) + `), spark: document.querySelector(` + strconv.Quote(row+` svg`) + `)};
		const r = document.createRange();
		r.selectNodeContents(window.kept.err);
		getSelection().removeAllRanges();
		getSelection().addRange(r);
		return getSelection().toString();
	})()`
	selected, err := chromedp.Run(bctx, chromedp.Evaluate[string](keep))
	if err != nil || selected == "" {
		t.Fatalf("selecting the error's text: %q, %v", selected, err)
	}
	// Two updates at least: the done count grows twice.
	for range 2 {
		first := number(t, bctx, doneCell)
		waitPage(t, bctx, "the job's done count to grow past "+strconv.Itoa(first), func() bool { return number(t, bctx, doneCell) > first })
	}
	for what, js := range map[string]string{
		"the job's row":        `window.kept.row === document.querySelector(` + strconv.Quote(row) + `)`,
		"the cancel button":    `window.kept.button === document.querySelector(` + strconv.Quote(button) + `)`,
		"the error's cell":     `window.kept.err === document.querySelector(` + strconv.Quote(errCell) + `)`,
		"the sparkline":        `window.kept.spark === document.querySelector(` + strconv.Quote(row+` svg`) + `)`,
		"the selected error":   `getSelection().toString() === ` + strconv.Quote(selected),
		"the done count shown": `window.kept.row.querySelector('td[data-col="done"]').textContent !== "0"`,
	} {
		ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](js))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Errorf("%s did not survive the page's updates", what)
		}
	}

	// The clicks still act on the elements kept: the error opens to its
	// full text, and the rerun button (control is open: the cluster takes
	// no credentials) runs the failed call again, shown beside it.
	failure := `[data-failures="` + id + `"] tr[data-failure]`
	if err := chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`getSelection().removeAllRanges()`),
		chromedp.Click(chromedp.CSS(errCell)), chromedp.WaitVisible(chromedp.CSS(failure+` pre.full`))); err != nil {
		t.Fatalf("opening the error: %v", err)
	}
	if full := text(t, bctx, failure+` pre.full`); full != selected {
		t.Errorf("the full error is %q, want %q (one line)", full, selected)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(failure+` button[data-rerun]`)), chromedp.WaitVisible(chromedp.CSS(failure+` .rerun`))); err != nil {
		t.Fatalf("rerunning the failed call: %v", err)
	}
}
