package crawl

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// openOutput opens pages.jsonl and urls.txt for appending: emptied for a
// new frontier, and for a resumed one cut back to the sizes its last
// commit recorded, dropping what a killed run wrote after that commit (it
// is written again when the batch is visited again).
func (k *crawler) openOutput(fresh bool) error {
	tot := k.fr.Totals()
	for _, f := range []struct {
		name string
		file **os.File
		off  *int64
		size int64
	}{
		{"pages.jsonl", &k.pagesF, &k.pagesOff, tot.PagesBytes},
		{"urls.txt", &k.urlsF, &k.urlsOff, tot.URLsBytes},
	} {
		flags := os.O_CREATE | os.O_APPEND | os.O_WRONLY
		if fresh {
			flags |= os.O_TRUNC
		}
		fh, err := os.OpenFile(filepath.Join(k.cfg.Out, f.name), flags, 0o644)
		if err != nil {
			return fmt.Errorf("crawl: %w", err)
		}
		*f.file = fh
		info, err := fh.Stat()
		if err != nil {
			return fmt.Errorf("crawl: %w", err)
		}
		*f.off = info.Size()
		if !fresh && f.size >= 0 && f.size < *f.off {
			if err := fh.Truncate(f.size); err != nil {
				return fmt.Errorf("crawl: %w", err)
			}
			*f.off = f.size
		}
	}
	return nil
}

func (k *crawler) closeOutput() {
	for _, f := range []*os.File{k.pagesF, k.urlsF} {
		if f != nil {
			f.Close()
		}
	}
}

// returned frees the host's slot of a visit that has come back and takes
// its robots.txt Crawl-delay into account.
func (k *crawler) returned(r *VisitResult) {
	_, hs := k.host(r.Item.URL)
	hs.active--
	if r.CrawlDelay > hs.delay {
		hs.delay = r.CrawlDelay
		hs.next = time.Now().Add(hs.delay)
	}
}

// record commits a batch of visits, or (begin) the run's start: held items
// the depth limit now allows, and new start URLs. Within one frontier
// transaction it retires the visited items (or keeps them for the next
// run), admits the links found, appends their rows to pages.jsonl and the
// URLs admitted to urls.txt, and records the files' new sizes. Nothing is
// lost or recorded twice if the process dies at any point (see
// openOutput).
func (k *crawler) record(batch []VisitResult, starts []Item, begin bool) error {
	var st Stats
	err := k.fr.Update(func(t *Txn) error {
		st = Stats{}
		k.rows, k.lines = k.rows[:0], k.lines[:0]
		if begin {
			released, err := t.Release()
			if err != nil {
				return err
			}
			k.addLines(released, &st)
		}
		if err := k.admit(t, starts, false, &st); err != nil {
			return err
		}
		var found []Item
		for i := range batch {
			r := &batch[i]
			if k.mirror != nil && r.Body != nil {
				saved, err := k.mirror.save(r.Page.URL, r.Body)
				if err != nil {
					r.Page.Error = "save: " + err.Error()
				}
				r.Page.Saved, r.Body = saved, nil
			}
			st.Pages++
			switch {
			case r.Skipped:
				st.Skipped++
			case r.Page.Error != "":
				st.Errors++
			}
			t.Visited(1)
			var err error
			if r.Retry {
				st.Retry++
				err = t.Retry(r.Item)
			} else {
				err = t.Retire(r.Item)
			}
			if err != nil {
				return err
			}
			if r.NoAnswer != "" && r.Item.Parent == "" && r.Item.Depth == 0 {
				k.unreachable.URLs = append(k.unreachable.URLs, r.Item.URL)
				k.unreachable.Errors = append(k.unreachable.Errors, r.NoAnswer)
			}
			if r.Redirect != "" {
				if err := k.redirected(t, r, &st); err != nil {
					return err
				}
				continue
			}
			if err := k.arrived(t, r); err != nil {
				return err
			}
			for _, l := range r.Links {
				if ok, trapped := k.follow(l, r.Item.Depth+1); ok {
					found = append(found, Item{URL: l, Depth: r.Item.Depth + 1, Parent: r.Item.URL})
				} else if trapped {
					st.Trapped++
				}
			}
		}
		if err := k.admit(t, found, true, &st); err != nil {
			return err
		}
		for _, p := range k.newPatterns {
			if err := t.SetPattern(p, k.patterns[p]); err != nil {
				return err
			}
		}
		return k.write(t)
	})
	if err != nil {
		for _, p := range k.newPatterns {
			delete(k.patterns, p)
		}
		k.newPatterns = k.newPatterns[:0]
		return err
	}
	k.newPatterns = k.newPatterns[:0]
	k.stats.Pages += st.Pages
	k.stats.Errors += st.Errors
	k.stats.Skipped += st.Skipped
	k.stats.Retry += st.Retry
	k.stats.Discovered += st.Discovered
	k.stats.Trapped += st.Trapped
	return nil
}

// admit queues new items and adds their lines to urls.txt.
func (k *crawler) admit(t *Txn, items []Item, limited bool, st *Stats) error {
	if len(items) == 0 {
		return nil
	}
	added, refused, err := t.Add(items, limited)
	if err != nil {
		return err
	}
	st.Trapped += refused
	k.addLines(added, st)
	return nil
}

// addLines adds the URLs of items just queued to urls.txt.
func (k *crawler) addLines(added []Item, st *Stats) {
	st.Discovered += len(added)
	for _, it := range added {
		k.lines = append(append(k.lines, it.URL...), '\n')
	}
	if len(added) > 0 {
		k.drained = false
	}
}

func (k *crawler) row(p Page) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	k.rows = append(append(k.rows, b...), '\n')
	return nil
}

// write appends the batch's rows and lines to the files and records their
// new sizes in t.
func (k *crawler) write(t *Txn) error {
	for _, w := range []struct {
		f   *os.File
		b   []byte
		off *int64
	}{{k.pagesF, k.rows, &k.pagesOff}, {k.urlsF, k.lines, &k.urlsOff}} {
		if len(w.b) == 0 {
			continue
		}
		n, err := w.f.Write(w.b)
		*w.off += int64(n)
		if err != nil {
			return fmt.Errorf("crawl: %w", err)
		}
	}
	t.SetOutput(k.pagesOff, k.urlsOff)
	return nil
}

// arrived records the visit of a page that is not a redirect: the rows of
// redirect hops that led to it first, then its own.
func (k *crawler) arrived(t *Txn, r *VisitResult) error {
	p := r.Page
	if err := t.SetOutcome(p.URL, Outcome{Status: p.Status, Title: p.Title}); err != nil {
		return err
	}
	waiting, err := takeHops(t, p.URL)
	if err != nil {
		return err
	}
	for _, h := range waiting {
		if err := k.hopRows(h, p.URL, p.Title, ""); err != nil {
			return err
		}
	}
	return k.row(p)
}
