package crawl

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// hops are redirect rows waiting for the page their chain ends at.
type hops struct {
	N      int    `json:"n"` // redirects in the longest chain
	Target string `json:"t"` // the URL they wait for
	Rows   []Page `json:"r"`
}

func decodeHops(b []byte) (hops, error) {
	var h hops
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("frontier: corrupt redirect record: %w", err)
	}
	return h, nil
}

// takeHops removes and returns the redirect hops waiting for u.
func takeHops(t *Txn, u string) ([]hops, error) {
	recs, err := t.TakeWaiting(u)
	if err != nil {
		return nil, err
	}
	out := make([]hops, 0, len(recs))
	for _, rec := range recs {
		h, err := decodeHops(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// hopRows writes the rows of redirect hops, now that their chain's end is
// known (title "" when it was not fetched) or failed (errMsg).
func (k *crawler) hopRows(h hops, final, title, errMsg string) error {
	for _, p := range h.Rows {
		p.Final, p.Title = final, title
		if errMsg != "" {
			p.Error = errMsg
		}
		if err := k.row(p); err != nil {
			return err
		}
	}
	return nil
}

// redirected handles a visit answered with a redirect: the hop joins the
// hops waiting for it, and together they wait for the target, which is
// queued like a link (at the hop's depth) unless the frontier has seen
// it. A target already visited ends the chain at once, without fetching
// it again.
func (k *crawler) redirected(t *Txn, r *VisitResult, st *Stats) error {
	h := hops{N: 1, Rows: []Page{r.Page}}
	waiting, err := takeHops(t, r.Item.URL)
	if err != nil {
		return err
	}
	for _, w := range waiting {
		h.N = max(h.N, w.N+1)
		h.Rows = append(w.Rows, h.Rows...)
	}
	target := r.Redirect
	if err := t.SetOutcome(r.Item.URL, Outcome{Status: r.Page.Status, Redirect: target}); err != nil {
		return err
	}
	if k.cfg.MaxRedirects < 0 {
		return k.hopRows(h, target, "", "") // recorded, not followed
	}
	visited := map[string]bool{r.Item.URL: true}
	for _, p := range h.Rows {
		visited[p.URL] = true
	}
	for {
		switch {
		case visited[target]:
			return k.hopRows(h, target, "", "redirect loop")
		case h.N > k.cfg.MaxRedirects:
			return k.hopRows(h, target, "", fmt.Sprintf("more than %d redirects", k.cfg.MaxRedirects))
		}
		o, done := t.Outcome(target)
		switch {
		case done && o.Redirect != "":
			// Visited before and itself a redirect, recorded then: follow on.
			visited[target] = true
			target = o.Redirect
			h.N++
			continue
		case done:
			return k.hopRows(h, target, o.Title, "")
		case t.Seen(target):
			return k.wait(t, h, target)
		}
		ok, trapped := k.follow(target, r.Item.Depth)
		if ok {
			before := st.Discovered
			err := k.admit(t, []Item{{URL: target, Depth: r.Item.Depth, Parent: r.Item.URL}}, true, st)
			if err != nil {
				return err
			}
			if st.Discovered > before {
				return k.wait(t, h, target)
			}
		} else if trapped {
			st.Trapped++
		}
		return k.hopRows(h, target, "", "") // not followed: out of scope, filtered or refused
	}
}

func (k *crawler) wait(t *Txn, h hops, target string) error {
	h.Target = target
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return t.AddWaiting(target, b)
}

// flushWaiting records the redirect hops whose target was not visited by
// the time the crawl ended (held beyond the depth limit, kept for retry,
// or left by MaxPages), with final_url set and no title.
func (k *crawler) flushWaiting() error {
	return k.fr.Update(func(t *Txn) error {
		k.rows, k.lines = k.rows[:0], k.lines[:0]
		recs, err := t.TakeAllWaiting()
		if err != nil || len(recs) == 0 {
			return err
		}
		var all []hops
		for _, rec := range recs {
			h, err := decodeHops(rec)
			if err != nil {
				return err
			}
			all = append(all, h)
		}
		slices.SortFunc(all, func(a, b hops) int { return strings.Compare(a.Target, b.Target) })
		for _, h := range all {
			if err := k.hopRows(h, h.Target, "", ""); err != nil {
				return err
			}
		}
		return k.write(t)
	})
}
