package crawl

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Txn is one frontier transaction: what a batch of visits changes — items
// retired or kept for retry, links admitted, outcomes recorded, totals —
// commits at once or not at all. See Frontier.Update.
type Txn struct {
	f          *Frontier
	tx         *bolt.Tx
	seq        uint64
	logged     []byte // seenKeys added to the seen-set, for its log
	heldLogged []byte // likewise for the held set
	tot        Totals
	queue      []Item // items admitted, written as chunks at the end
	hold       []Item // items held, likewise
	released   bool

	queued, inflight, held, retry int
}

// Update runs fn in one read-write transaction and commits it if fn
// returns nil. fn may write files whose committed sizes it records with
// SetOutput; if the transaction fails, or the process dies before the
// commit, what fn wrote past them is cut off when the crawl resumes.
func (f *Frontier) Update(fn func(*Txn) error) error {
	t := &Txn{f: f, seq: f.seq, tot: f.tot}
	var sc, hc seenCommit
	err := f.db.Update(func(tx *bolt.Tx) error {
		t.tx = tx
		if err := fn(t); err != nil {
			return err
		}
		if err := putChunks(tx.Bucket(bucketQueue), t.queue); err != nil {
			return err
		}
		if err := putChunks(tx.Bucket(bucketHeld), t.hold); err != nil {
			return err
		}
		var err error
		if sc, err = f.seen.logAdded(tx, t.logged); err != nil {
			return err
		}
		if hc, err = f.heldSeen.logAdded(tx, t.heldLogged); err != nil {
			return err
		}
		return t.saveTotals()
	})
	if err != nil {
		f.seen.forget(t.logged)
		f.heldSeen.forget(t.heldLogged)
		return fmt.Errorf("frontier: %w", err)
	}
	f.seen.committed(sc)
	f.heldSeen.committed(hc)
	if t.released {
		f.releaseDue = false
	}
	f.seq, f.tot = t.seq, t.tot
	f.queued += t.queued
	f.inflight += t.inflight
	f.held += t.held
	f.retry += t.retry
	return nil
}

func (t *Txn) saveTotals() error {
	counts := t.tx.Bucket(bucketCounts)
	old := t.f.tot
	if t.seq != t.f.seq {
		if err := putCount(counts, keySeq, int(t.seq)); err != nil {
			return err
		}
	}
	if t.queued != 0 {
		if err := putCount(counts, keyQueued, t.f.queued+t.queued); err != nil {
			return err
		}
	}
	if t.held != 0 {
		if err := putCount(counts, keyHeld, t.f.held+t.held); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		key      []byte
		old, new int64
	}{
		{keyVisited, int64(old.Visited), int64(t.tot.Visited)},
		{keyURLs, int64(old.URLs), int64(t.tot.URLs)},
		{keyPagesBytes, old.PagesBytes, t.tot.PagesBytes},
		{keyURLsBytes, old.URLsBytes, t.tot.URLsBytes},
	} {
		if c.new != c.old && c.new >= 0 {
			if err := putCount(counts, c.key, int(c.new)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Retire removes a visited item from the in-flight set.
func (t *Txn) Retire(it Item) error {
	t.inflight--
	return t.tx.Bucket(bucketInflight).Delete(seqKey(it.Seq))
}

// Retry moves a visited item from the in-flight set to those visited
// again when the frontier is next opened.
func (t *Txn) Retry(it Item) error {
	if err := t.Retire(it); err != nil {
		return err
	}
	t.retry++
	return t.tx.Bucket(bucketRetry).Put(seqKey(it.Seq), encodeItem(it))
}

// Add queues the items whose URLs were never seen and, when limited is
// set, fit the limits, and returns them; it counts those refused by a
// limit. Items deeper than the depth limit are held instead (once each).
func (t *Txn) Add(items []Item, limited bool) (added []Item, refused int, err error) {
	seen, held := t.f.seen, t.f.heldSeen
	counts := t.tx.Bucket(bucketCounts)
	first := len(t.queue)
	defer func() {
		if err == nil {
			added = t.queue[first:len(t.queue):len(t.queue)]
		}
	}()
	for _, it := range items {
		k := keyOf(it.URL)
		if seen.contains(t.tx, k) {
			continue
		}
		if t.f.lim.Depth >= 0 && it.Depth > t.f.lim.Depth {
			if held.contains(t.tx, k) {
				continue
			}
			held.add(k)
			t.heldLogged = append(t.heldLogged, k[:]...)
			t.seq++
			it.Seq = t.seq
			t.hold = append(t.hold, it)
			t.held++
			continue
		}
		ok, err := t.f.admit(counts, it.URL, limited)
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			refused++
			continue
		}
		if held.contains(t.tx, k) {
			t.held-- // found shallower after all: its held copy is dropped on release
		}
		seen.add(k)
		t.logged = append(t.logged, k[:]...)
		t.seq++
		it.Seq = t.seq
		t.queue = append(t.queue, it)
		t.queued++
		t.tot.URLs++
	}
	return nil, refused, nil
}

// Seen reports whether the URL was ever admitted (queued or held).
func (t *Txn) Seen(u string) bool { return t.f.seen.contains(t.tx, keyOf(u)) }

// Visited counts n visits recorded (rows written to pages.jsonl).
func (t *Txn) Visited(n int) { t.tot.Visited += n }

// SetOutput records the sizes of pages.jsonl and urls.txt once this
// transaction's rows are written.
func (t *Txn) SetOutput(pagesBytes, urlsBytes int64) {
	t.tot.PagesBytes, t.tot.URLsBytes = pagesBytes, urlsBytes
}

// Outcome is what the frontier remembers of a visited URL: its status and
// either the title of the page or the URL it redirected to.
type Outcome struct {
	Status   int
	Redirect string
	Title    string
}

// SetOutcome records the outcome of a visit to u.
func (t *Txn) SetOutcome(u string, o Outcome) error {
	k := keyOf(u)
	return t.tx.Bucket(bucketDone).Put(k[:], encodeTriple(uint64(max(o.Status, 0)), o.Redirect, o.Title))
}

// Outcome returns the recorded outcome of a visit to u, if any.
func (t *Txn) Outcome(u string) (Outcome, bool) {
	k := keyOf(u)
	st, redirect, title, ok := decodeTriple(t.tx.Bucket(bucketDone).Get(k[:]))
	if !ok {
		return Outcome{}, false
	}
	return Outcome{Status: int(st), Redirect: redirect, Title: title}, true
}

// AddWaiting appends rec to what waits for the visit of u.
func (t *Txn) AddWaiting(u string, rec []byte) error {
	k := keyOf(u)
	b := t.tx.Bucket(bucketWaiting)
	old := b.Get(k[:])
	// bbolt's values are valid only during the transaction and must not be
	// modified: build the new value in a buffer of its own.
	v := make([]byte, 0, len(old)+len(rec)+binary.MaxVarintLen32)
	v = append(v, old...)
	v = binary.AppendUvarint(v, uint64(len(rec)))
	return b.Put(k[:], append(v, rec...))
}

// TakeWaiting removes and returns what waits for the visit of u.
func (t *Txn) TakeWaiting(u string) ([][]byte, error) {
	k := keyOf(u)
	b := t.tx.Bucket(bucketWaiting)
	v := b.Get(k[:])
	if v == nil {
		return nil, nil
	}
	recs := splitRecords(v)
	return recs, b.Delete(k[:])
}

// TakeAllWaiting removes and returns everything still waiting.
func (t *Txn) TakeAllWaiting() ([][]byte, error) {
	b := t.tx.Bucket(bucketWaiting)
	var recs [][]byte
	if err := b.ForEach(func(_, v []byte) error {
		recs = append(recs, splitRecords(v)...)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := t.tx.DeleteBucket(bucketWaiting); err != nil {
		return nil, err
	}
	_, err := t.tx.CreateBucket(bucketWaiting)
	return recs, err
}

func splitRecords(v []byte) [][]byte {
	var recs [][]byte
	for len(v) > 0 {
		l, n := binary.Uvarint(v)
		if n <= 0 || uint64(len(v)-n) < l {
			break
		}
		recs = append(recs, append([]byte(nil), v[n:n+int(l)]...))
		v = v[n+int(l):]
	}
	return recs
}

// Pattern returns the depth at which a URL of pattern p was first seen.
func (t *Txn) Pattern(p string) (int, bool) {
	v := t.tx.Bucket(bucketPatterns).Get([]byte(p))
	if v == nil {
		return 0, false
	}
	d, _ := binary.Uvarint(v)
	return int(d), true
}

// SetPattern records the depth at which a URL of pattern p was first seen.
func (t *Txn) SetPattern(p string, depth int) error {
	return putCount(t.tx.Bucket(bucketPatterns), []byte(p), depth)
}

// Release queues the held items the depth limit now allows (the frontier
// was opened with a larger one than before), counting them against the
// other limits as if they were found now, and returns those queued. It
// does nothing after the first call.
func (t *Txn) Release() ([]Item, error) {
	f := t.f
	counts := t.tx.Bucket(bucketCounts)
	if err := putCount(counts, keyDepth, f.lim.Depth+1); err != nil {
		return nil, err
	}
	if !f.releaseDue {
		return nil, nil
	}
	var keep, queue []Item
	released := 0
	if err := t.tx.Bucket(bucketHeld).ForEach(func(_, v []byte) error {
		items, err := decodeChunk(v)
		if err != nil {
			return err
		}
		for _, it := range items {
			if f.lim.Depth >= 0 && it.Depth > f.lim.Depth {
				keep = append(keep, it)
				continue
			}
			k := keyOf(it.URL)
			if f.seen.contains(t.tx, k) {
				continue // admitted from a shallower depth since (and not counted held)
			}
			released++
			ok, err := f.admit(counts, it.URL, true)
			if err != nil {
				return err
			}
			if ok {
				f.seen.add(k)
				t.logged = append(t.logged, k[:]...)
				t.seq++
				it.Seq = t.seq
				queue = append(queue, it)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := t.tx.DeleteBucket(bucketHeld); err != nil {
		return nil, err
	}
	if _, err := t.tx.CreateBucket(bucketHeld); err != nil {
		return nil, err
	}
	t.hold = append(keep, t.hold...)
	t.held -= released
	t.queue = append(t.queue, queue...)
	t.queued += len(queue)
	t.tot.URLs += len(queue)
	t.released = true
	return queue, nil
}
