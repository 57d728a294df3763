package run

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// skip passes over a job a resumed joblog has; with -k its place in the
// output order is then free. The caller holds inMu.
func (r *runner) skip(j *job) {
	if !r.o.KeepOrder {
		return
	}
	r.outMu.Lock()
	defer r.outMu.Unlock()
	j.skipped = true
	r.held[j.seq] = j
	r.flushHeld()
}

// finish prints a job's output (or holds it for -k), logs it, reports
// progress and applies --halt.
func (r *runner) finish(j *job) {
	r.freeSlot(j.slot)
	defer r.limits.release()
	defer r.reap.remove(j.seq)
	r.outMu.Lock()
	defer r.outMu.Unlock()
	delete(r.live, j.seq)
	r.running--
	if h := r.haltSeq.Load(); h != 0 && int64(j.seq) > h {
		j.killed = true // ended after an older job halted the run: GNU parallel would not see it
	}
	if j.killed {
		// As if it had not run: its partial output would be printed
		// again when --resume runs it again. With -k it frees its place
		// in the output order, as a job --resume passes over does.
		if r.o.KeepOrder {
			j.skipped = true
			r.held[j.seq] = j
			r.flushHeld()
		}
		return
	}
	r.progress.Done++
	if j.failed() {
		r.progress.Failed++
		r.lastStatus = j.exit
		if j.exit == 0 && j.signal != 0 {
			r.lastStatus = 128 + j.signal
		}
	} else if r.o.TimeoutPct > 0 {
		r.runtimes = append(r.runtimes, j.runtime)
	}
	if r.o.KeepOrder {
		r.held[j.seq] = j
	} else {
		r.print(j)
	}
	if r.o.Progress != nil {
		r.progress.Elapsed = time.Since(r.began)
		r.progress.Started = int(r.started.Load())
		r.progress.Running = r.running
		r.o.Progress(r.progress)
	}
	if h := r.halt.check(j); h != nil && r.haltErr == nil {
		r.haltErr = h
		r.halted.Store(true)
		close(r.stop)
		if r.o.Halt.Now {
			r.haltSeq.Store(int64(j.seq))
			r.cancel()
		}
	}
	r.flushHeld()
}

// medianRuntime is the median run time of the jobs that succeeded, for
// --timeout N%. The caller holds outMu.
func (r *runner) medianRuntime() time.Duration {
	if len(r.runtimes) == 0 {
		return 0
	}
	s := slices.Clone(r.runtimes)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// flushHeld prints the held jobs (-k) that are next in input order. With
// --line-buffer, the job that is then the oldest may still be running:
// the lines it has written so far are printed, and the rest will be as
// they come (lineWriter.emit).
func (r *runner) flushHeld() {
	for {
		h, ok := r.held[r.nextOut]
		if !ok {
			break
		}
		delete(r.held, r.nextOut)
		r.nextOut++
		if !h.skipped {
			r.print(h)
		}
	}
	if j, ok := r.live[r.nextOut]; ok {
		r.releaseLines(j)
	}
}

// releaseLines prints the lines held for a --line-buffer -k job. The
// caller holds outMu.
func (r *runner) releaseLines(j *job) {
	r.writeTagged(r.o.Stdout, j, j.heldOut.Bytes())
	r.writeTagged(r.o.Stderr, j, j.heldErr.Bytes())
	j.heldOut.Reset()
	j.heldErr.Reset()
}

// print prints a finished job's output as the options say — grouped,
// tagged, in a --files file, into --results — and then logs it, as GNU
// parallel does (so with -k the joblog is in input order too). The
// caller holds outMu.
func (r *runner) print(j *job) {
	if r.o.DryRun {
		r.writeTagged(r.dryOut, j, append([]byte(j.cmd), '\n'))
		return
	}
	switch {
	case r.results != nil:
		if err := r.results.write(r, j); err != nil {
			fmt.Fprintf(r.o.Stderr, "crew run: --results: %v\n", err)
		}
		if r.o.LineBuffer {
			r.releaseLines(j)
		}
	case r.o.Files:
		if err := r.writeFiles(j); err != nil {
			fmt.Fprintf(r.o.Stderr, "crew run: --files: %v\n", err)
		}
	case r.o.Ungroup:
	case r.o.LineBuffer:
		r.releaseLines(j) // -k: what was not printed live
	default:
		r.writeTagged(r.o.Stdout, j, j.stdout.Bytes())
		r.writeTagged(r.o.Stderr, j, j.stderr.Bytes())
	}
	r.logJob(j)
}

// writeTagged writes b, each line starting with the job's tag if it has
// one: at the start and after each newline or carriage return that more
// output follows, as GNU parallel tags.
func (r *runner) writeTagged(w io.Writer, j *job, b []byte) {
	if len(b) == 0 {
		return
	}
	if j.tag == "" {
		w.Write(b)
		return
	}
	var out bytes.Buffer
	out.Grow(len(b) + len(j.tag)*(bytes.Count(b, []byte{'\n'})+1))
	out.WriteString(j.tag)
	for i := 0; i < len(b); i++ {
		out.WriteByte(b[i])
		if (b[i] == '\n' || b[i] == '\r') && i+1 < len(b) {
			out.WriteString(j.tag)
		}
	}
	w.Write(out.Bytes())
}

// writeFiles saves the job's stdout in a file of its own and prints the
// file's name (--files); its stderr is dropped, as GNU parallel does.
func (r *runner) writeFiles(j *job) error {
	f, err := createTemp(r.tmpDir(), ".par")
	if err != nil {
		return err
	}
	if _, err := f.Write(j.stdout.Bytes()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(r.o.Stdout, "%s%s\n", j.tag, f.Name())
	return nil
}

// createTemp makes a new file named as GNU parallel names its temporary
// files: par, five random letters, digits or _, then suffix.
func createTemp(dir, suffix string) (*os.File, error) {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
	for {
		name := []byte("par")
		for range 5 {
			name = append(name, chars[rand.IntN(len(chars))])
		}
		// dir/name as Perl's File::Spec joins them: ./par… in ".", not par…
		path := strings.TrimRight(dir, "/") + "/" + string(name) + suffix
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !os.IsExist(err) {
			return f, err
		}
	}
}

// tmpDir is --tmpdir, else $TMPDIR, else /tmp (os.TempDir).
func (r *runner) tmpDir() string {
	if r.o.TmpDir != "" {
		return r.o.TmpDir
	}
	return os.TempDir()
}

// lineOutput returns the writers for a --line-buffer job's stdout and
// stderr, which print whole lines as they come and, for --results, keep
// the output in the job too; and the function that prints the last
// partial lines once the job has ended.
func (r *runner) lineOutput(j *job) (stdout, stderr io.Writer, flush func()) {
	lo := &lineWriter{r: r, j: j, w: r.o.Stdout, held: &j.heldOut}
	le := &lineWriter{r: r, j: j, w: r.o.Stderr, held: &j.heldErr}
	flush = func() {
		lo.flush()
		le.flush()
	}
	if r.o.Results == "" {
		return lo, le, flush
	}
	return io.MultiWriter(lo, &j.stdout), io.MultiWriter(le, &j.stderr), flush
}

// lineWriter passes whole lines to w as they come (--line-buffer), tagged
// if asked; a partial last line waits for flush. With -k, lines of a job
// that is not the oldest unfinished one wait in held instead.
type lineWriter struct {
	r       *runner
	j       *job
	w       io.Writer
	held    *bytes.Buffer
	partial []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.partial = append(l.partial, b...)
	if i := bytes.LastIndexByte(l.partial, '\n'); i >= 0 {
		l.emit(l.partial[:i+1])
		l.partial = append(l.partial[:0], l.partial[i+1:]...)
	}
	return len(b), nil
}

func (l *lineWriter) flush() {
	if len(l.partial) > 0 {
		l.emit(l.partial)
		l.partial = nil
	}
}

// emit prints b, or holds it while an older job is unfinished (-k). Both
// happen under outMu, which flushHeld holds to make this job the oldest
// and print what it held: no line overtakes another.
func (l *lineWriter) emit(b []byte) {
	l.r.outMu.Lock()
	defer l.r.outMu.Unlock()
	if l.r.o.KeepOrder && l.j.seq != l.r.nextOut {
		l.held.Write(b)
		return
	}
	l.r.writeTagged(l.w, l.j, b)
}

// batchedOut holds --dry-run's lines and writes them in batches: a write
// a line would cost crew more than filling the lines in. What it holds
// is written when 64 KiB are held, 20 ms after the first line held (a
// slow input's lines still show as they come), and when the run ends.
type batchedOut struct {
	mu    *sync.Mutex // the runner's outMu, which print holds
	w     *bufio.Writer
	timer *time.Timer
}

func newBatchedOut(w io.Writer, mu *sync.Mutex) *batchedOut {
	b := &batchedOut{mu: mu, w: bufio.NewWriterSize(w, 64<<10)}
	b.timer = time.AfterFunc(time.Hour, func() {
		b.mu.Lock()
		b.w.Flush()
		b.mu.Unlock()
	})
	b.timer.Stop()
	return b
}

// Write is called with mu held.
func (b *batchedOut) Write(p []byte) (int, error) {
	if b.w.Buffered() == 0 {
		b.timer.Reset(20 * time.Millisecond)
	}
	return b.w.Write(p)
}

// close writes what is held; no line comes after it.
func (b *batchedOut) close() {
	b.timer.Stop()
	b.mu.Lock()
	b.w.Flush()
	b.mu.Unlock()
}
