package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/crewrun/crew/treecopy"
)

// changeList prints crew copy's changes, one entry a line (or a NUL-ended
// record with -0): names for --dry-run and -v, rsync's itemized form with -i.
type changeList struct {
	mu      sync.Mutex
	w       *bufio.Writer
	itemize bool
	null    bool
}

// newChangeList returns the list o asks for, or nil.
func newChangeList(w io.Writer, o copyOptions) *changeList {
	if !o.dryRun && !o.verbose && !o.itemize {
		return nil
	}
	return &changeList{w: bufio.NewWriter(w), itemize: o.itemize, null: o.null}
}

func (l *changeList) print(c treecopy.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.WriteString(formatChange(c, l.itemize, l.null))
	if l.null {
		l.w.WriteByte(0)
	} else {
		l.w.WriteByte('\n')
	}
}

func (l *changeList) flush() {
	l.mu.Lock()
	l.w.Flush()
	l.mu.Unlock()
}

// formatChange is one line of the list: the name (a directory's with a
// trailing "/", the top of a contents copy as "./"), quoted as ls quotes
// it unless raw, after rsync's itemized code with itemize; a hardlink
// says which name it was linked to.
func formatChange(c treecopy.Change, itemize, raw bool) string {
	name := c.Path
	if c.Type == treecopy.Dir {
		name += "/"
		if c.Path == "" {
			name = "./"
		}
	}
	q := treecopy.Quote
	if raw {
		q = func(s string) string { return s }
	}
	line := q(name)
	switch {
	case c.Op == treecopy.Linked:
		line += " => " + q(c.Target)
	case c.Type == treecopy.Symlink && c.Op != treecopy.Deleted:
		line += " -> " + q(c.Target)
	}
	switch {
	case itemize:
		return c.Itemized() + " " + line
	case c.Op == treecopy.Deleted:
		return "deleting " + line
	}
	return line
}

// summary is crew copy's last line: what changed, what was up to date.
func summary(st treecopy.Stats, dryRun bool, elapsed time.Duration) string {
	var parts []string
	add := func(n int64, one, many string) {
		if n == 1 {
			parts = append(parts, "1 "+one)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(st.Files, "file", "files")
	if st.Files > 0 {
		parts[len(parts)-1] += " (" + humanBytes(st.Bytes) + ")"
	}
	add(st.Symlinks, "symlink", "symlinks")
	add(st.Links, "hardlink", "hardlinks")
	add(st.Special, "special file", "special files")
	add(st.Dirs, "directory", "directories")
	verb := "copied"
	if dryRun {
		verb = "would copy"
	}
	line := verb + " " + strings.Join(parts, ", ")
	if len(parts) == 0 {
		line = verb + " nothing"
	}
	switch {
	case st.Meta == 1:
		line += "; 1 metadata-only update"
	case st.Meta > 1:
		line += fmt.Sprintf("; %d metadata-only updates", st.Meta)
	}
	if st.Deleted > 0 {
		line += fmt.Sprintf("; %d deleted", st.Deleted)
	}
	line += fmt.Sprintf("; %d up to date", st.Skipped+st.DirsUpToDate)
	if !dryRun {
		line += fmt.Sprintf("; %.1f s", elapsed.Seconds())
		if st.Bytes > 0 && elapsed > 0 {
			line += fmt.Sprintf(", %s/s", humanBytes(int64(float64(st.Bytes)/elapsed.Seconds())))
		}
	}
	return line
}

// humanBytes is n in B, kB, MB, GB (powers of 1000, as the progress bar shows).
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}

// copyProgress shows a copy's progress on standard error: a bar on a
// terminal, a line every progressEvery otherwise.
type copyProgress struct {
	done chan struct{}
	wg   sync.WaitGroup
}

// progressEvery is how often progress is printed off a terminal.
var progressEvery = 5 * time.Second

func startProgress(ctx context.Context, w io.Writer, terminal bool, p *treecopy.Progress, trees []treecopy.Tree) *copyProgress {
	cp := &copyProgress{done: make(chan struct{})}
	var mu sync.Mutex
	total := int64(-1)
	sizeCtx, stopSizing := context.WithCancel(ctx)
	cp.wg.Go(func() {
		// The total, hence a percentage, once a walk beside the copy has
		// added up the source's data.
		var sum int64
		for _, t := range trees {
			n, err := treeSize(sizeCtx, t.Src)
			if err != nil {
				return
			}
			sum += n
		}
		mu.Lock()
		total = sum
		mu.Unlock()
	})
	start := time.Now()
	cp.wg.Go(func() {
		defer stopSizing()
		var bar *progressbar.ProgressBar
		every := progressEvery
		if terminal {
			every = 200 * time.Millisecond
			// The bar moves with the data looked at, copied or found up
			// to date; the rate shown is of bytes copied alone (the bar's
			// own would count skipped files as fast as they are skipped).
			bar = progressbar.NewOptions64(-1,
				progressbar.OptionSetWriter(w),
				progressbar.OptionShowBytes(false),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionSetDescription("copy"))
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
			case <-cp.done:
				if bar != nil {
					bar.Exit()
					fmt.Fprintln(w)
				}
				return
			}
			mu.Lock()
			max := total
			mu.Unlock()
			entries, data, copied := p.Entries.Load(), p.Data.Load(), p.Copied.Load()
			rate := float64(copied) / time.Since(start).Seconds()
			if bar == nil {
				fmt.Fprintln(w, "crew copy: "+progressLine(entries, data, max, copied, rate))
				continue
			}
			if max >= 0 && bar.GetMax64() != max {
				bar.ChangeMax64(max)
			}
			bar.Describe(progressLine(entries, data, max, copied, rate))
			bar.Set64(data)
		}
	})
	return cp
}

// progressLine says how far a copy is: entries and data looked at (of
// the total, max, once known: -1 before), bytes copied and their rate.
func progressLine(entries, data, max, copied int64, rate float64) string {
	line := fmt.Sprintf("%d entries, %s", entries, humanBytes(data))
	if max >= 0 {
		line += " of " + humanBytes(max)
		if max > 0 {
			line += fmt.Sprintf(" (%d%%)", min(100, data*100/max))
		}
	}
	line += " looked at, " + humanBytes(copied) + " copied"
	if copied > 0 {
		line += " (" + humanBytes(int64(rate)) + "/s)"
	}
	return line
}

func (cp *copyProgress) stop() {
	close(cp.done)
	cp.wg.Wait()
}

// treeSize returns the data in the regular files below root: their
// allocated size, no more than their length (holes are not copied).
func treeSize(ctx context.Context, root string) (int64, error) {
	var total int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err != nil || !d.Type().IsRegular() {
			return nil // the copy reports what cannot be read
		}
		if fi, err := d.Info(); err == nil {
			total += allocated(fi)
		}
		return nil
	})
	return total, err
}

// filterFlag adds --exclude, --include, --exclude-from and --include-from
// rules to one Filter, in command-line order, as rsync reads them.
type filterFlag struct {
	f       *treecopy.Filter
	include bool
	from    bool
	stdin   io.Reader
}

func (v *filterFlag) Set(s string) error {
	if !v.from {
		return v.f.Add(s, v.include)
	}
	r, name := v.stdin, "standard input"
	if s != "-" {
		f, err := os.Open(s)
		if err != nil {
			return err
		}
		defer f.Close()
		r, name = f, s
	}
	return v.f.AddFrom(r, v.include, name)
}

func (v *filterFlag) String() string { return "" }

func (v *filterFlag) Type() string {
	if v.from {
		return "FILE"
	}
	return "PATTERN"
}
