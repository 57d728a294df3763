package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/crewrun/crew/fetch"
)

// fetchReporter writes crew fetch's results as they come: each JSON line
// with one write, progress and per-URL messages on stderr, and the summary.
type fetchReporter struct {
	errw     io.Writer
	out      io.Writer
	quiet    bool
	where    string // "line" or "argument", in messages
	bar      *progressbar.ProgressBar
	start    time.Time
	bytes    atomic.Int64 // body bytes received
	line     bytes.Buffer
	enc      *json.Encoder
	writeErr error
}

func newFetchReporter(errw, out io.Writer, quiet bool, where string, total int) *fetchReporter {
	r := &fetchReporter{errw: errw, out: out, quiet: quiet, where: where, start: time.Now()}
	r.enc = json.NewEncoder(&r.line)
	r.enc.SetEscapeHTML(false)
	if f, ok := errw.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		r.bar = progressbar.NewOptions(total, // -1: a count without an end
			progressbar.OptionSetWriter(errw),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("url"),
			progressbar.OptionSetPredictTime(total > 0),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond))
	}
	return r
}

// received counts body bytes (fetch.Options.Progress).
func (r *fetchReporter) received(n int64) { r.bytes.Add(n) }

// result writes one result; fetch.Run calls it one at a time.
func (r *fetchReporter) result(res fetch.Result) error {
	if res.Err != nil && !r.quiet && (r.bar == nil || errors.Is(res.Err, fetch.ErrBadInput)) {
		if res.Line > 0 && errors.Is(res.Err, fetch.ErrBadInput) {
			fmt.Fprintf(r.errw, "crew fetch: %s %d: %v\n", r.where, res.Line, res.Err)
		} else {
			fmt.Fprintf(r.errw, "crew fetch: %v\n", res.Err)
		}
	}
	if r.bar != nil {
		mb := float64(r.bytes.Load()) / 1e6
		r.bar.Describe(fmt.Sprintf("%.1f MB %.1f MB/s", mb, mb/time.Since(r.start).Seconds()))
		r.bar.Add(1)
	}
	// One write per line: a reader of the file (tail -f, or after a kill)
	// never sees part of a line that is still to come.
	r.line.Reset()
	if err := r.enc.Encode(res); err != nil {
		return err
	}
	if _, err := r.out.Write(r.line.Bytes()); err != nil {
		r.writeErr = err
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}

// finish ends the progress bar and prints the summary, as wget and aria2c
// do, unless quiet.
func (r *fetchReporter) finish(st fetch.Stats, interrupted bool) {
	if r.bar != nil {
		r.bar.Finish()
	}
	if r.quiet {
		return
	}
	elapsed := time.Since(r.start)
	got := r.bytes.Load()
	cut, how := "", ""
	if interrupted {
		cut, how = fmt.Sprintf(", %d interrupted", st.Interrupted), " before the interruption"
	}
	fmt.Fprintf(r.errw, "crew fetch: %d ok, %d failed, %d skipped, %d %s%s; %s received in %s (%s/s)%s\n",
		st.OK, st.Failed, st.Skipped, st.Duplicates, plural(st.Duplicates, "duplicate", "duplicates"), cut,
		humanBytes(got), elapsed.Round(time.Millisecond), humanBytes(int64(float64(got)/max(elapsed.Seconds(), 1e-9))), how)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
