package crawl

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketSeen     = []byte("seen")
	bucketQueue    = []byte("queue")
	bucketInflight = []byte("inflight")
	bucketCounts   = []byte("counts")
)

// Item is one queued URL: its canonical form, its depth from a start URL,
// the page it was found on ("" for start URLs) and its position in the
// queue (set by the Frontier).
type Item struct {
	URL    string `json:"u"`
	Depth  int    `json:"d"`
	Parent string `json:"p,omitempty"`
	Seq    uint64 `json:"s,omitempty"`
}

// Limits bound what a Frontier admits from Complete, so that a site which
// generates endless URLs (calendars, session ids, faceted search) cannot
// grow the crawl without end. Zero means unlimited.
type Limits struct {
	// PagesPerHost caps the URLs admitted per host (host:port), start
	// URLs included.
	PagesPerHost int
	// QueryVariants caps the distinct query strings admitted per
	// scheme://host/path.
	QueryVariants int
}

// Frontier is a crawl's queue and seen-set, kept on disk in a bbolt file
// so that neither has to fit in memory and a killed crawl can resume.
//
// The seen-set holds a 128-bit SHA-256 prefix of each canonical URL, so
// its size does not depend on URL length. Items leave the queue in the
// order they entered it, which is breadth-first when each page's links are
// added after it is done. Pop moves items to an in-flight set and Complete
// removes them; opening a frontier returns in-flight items to the front of
// the queue, so after kill -9 only the pages in flight at the time are
// fetched again.
//
// Each Pop and Complete is one transaction; callers batch them. The file
// is opened with NoSync: a commit reaches the OS page cache, which
// survives a crash of the process (kill -9) but not of the machine; Close
// syncs it. A Frontier is not safe for concurrent use.
type Frontier struct {
	db     *bolt.DB
	seq    uint64
	queued int
	limit  Limits
}

// OpenFrontier opens or creates the frontier in dir (the file
// dir/frontier.db) with the given admission limits.
func OpenFrontier(dir string, lim Limits) (*Frontier, error) {
	db, err := bolt.Open(filepath.Join(dir, "frontier.db"), 0o644,
		&bolt.Options{NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("open frontier: %w", err)
	}
	f := &Frontier{db: db, limit: lim}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSeen, bucketQueue, bucketInflight, bucketCounts} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		// In-flight items have lower sequence numbers than anything still
		// queued, so putting them back under their own keys puts them
		// first, in their original order.
		q, in := tx.Bucket(bucketQueue), tx.Bucket(bucketInflight)
		c := in.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := q.Put(k, v); err != nil {
				return err
			}
		}
		if err := tx.DeleteBucket(bucketInflight); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketInflight); err != nil {
			return err
		}
		if k, _ := q.Cursor().Last(); k != nil {
			f.seq = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	if err == nil {
		// Stats counts committed pages only, hence a second transaction.
		err = db.View(func(tx *bolt.Tx) error {
			f.queued = tx.Bucket(bucketQueue).Stats().KeyN
			return nil
		})
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open frontier: %w", err)
	}
	return f, nil
}

func seqKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n)
}

func seenKey(u string) []byte {
	h := sha256.Sum256([]byte(u))
	return h[:16]
}

// encodeItem is the on-disk form of a queued item: depth, URL length, URL,
// parent.
func encodeItem(it Item) []byte {
	b := make([]byte, 0, 4+len(it.URL)+len(it.Parent))
	b = binary.AppendUvarint(b, uint64(it.Depth))
	b = binary.AppendUvarint(b, uint64(len(it.URL)))
	b = append(b, it.URL...)
	return append(b, it.Parent...)
}

var errCorrupt = errors.New("frontier: corrupt item")

func decodeItem(k, v []byte) (Item, error) {
	d, n := binary.Uvarint(v)
	if n <= 0 {
		return Item{}, errCorrupt
	}
	v = v[n:]
	l, n := binary.Uvarint(v)
	if n <= 0 || uint64(len(v)-n) < l {
		return Item{}, errCorrupt
	}
	v = v[n:]
	return Item{URL: string(v[:l]), Parent: string(v[l:]), Depth: int(d), Seq: binary.BigEndian.Uint64(k)}, nil
}

// Push adds the items whose URLs were never seen, ignoring Limits, and
// returns those that were new. Use it for start URLs.
func (f *Frontier) Push(items []Item) ([]Item, error) {
	return f.update(nil, items, nil, false)
}

// Complete removes done items (from Pop) from the in-flight set, marks
// seenOnly URLs as seen without queueing them (the targets of redirects),
// and adds the found items that were never seen and fit the Limits, all
// in one transaction. It returns the items added to the queue, which
// includes none of seenOnly.
func (f *Frontier) Complete(done, found []Item, seenOnly []string) ([]Item, error) {
	return f.update(done, found, seenOnly, true)
}

func (f *Frontier) update(done, items []Item, seenOnly []string, limited bool) ([]Item, error) {
	var added []Item
	err := f.db.Update(func(tx *bolt.Tx) error {
		added = added[:0]
		in := tx.Bucket(bucketInflight)
		for _, it := range done {
			if err := in.Delete(seqKey(it.Seq)); err != nil {
				return err
			}
		}
		seen, q, counts := tx.Bucket(bucketSeen), tx.Bucket(bucketQueue), tx.Bucket(bucketCounts)
		for _, u := range seenOnly {
			if err := seen.Put(seenKey(u), []byte{1}); err != nil {
				return err
			}
		}
		seq := f.seq
		for _, it := range items {
			sk := seenKey(it.URL)
			if seen.Get(sk) != nil {
				continue
			}
			ok, err := f.admit(counts, it.URL, limited)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := seen.Put(sk, []byte{1}); err != nil {
				return err
			}
			seq++
			it.Seq = seq
			if err := q.Put(seqKey(seq), encodeItem(it)); err != nil {
				return err
			}
			added = append(added, it)
		}
		f.seq = seq
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("frontier: %w", err)
	}
	f.queued += len(added)
	return added, nil
}

// admit counts a new URL against the limits and, if check is set, refuses
// it when a limit is reached.
func (f *Frontier) admit(counts *bolt.Bucket, raw string, check bool) (bool, error) {
	if f.limit.PagesPerHost <= 0 && f.limit.QueryVariants <= 0 {
		return true, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false, nil
	}
	var keys [][]byte
	if f.limit.PagesPerHost > 0 {
		k := append([]byte("h\x00"), u.Host...)
		if check && count(counts, k) >= f.limit.PagesPerHost {
			return false, nil
		}
		keys = append(keys, k)
	}
	if f.limit.QueryVariants > 0 && u.RawQuery != "" {
		k := append([]byte("v\x00"), u.Scheme+"://"+u.Host+u.EscapedPath()...)
		if check && count(counts, k) >= f.limit.QueryVariants {
			return false, nil
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := counts.Put(k, binary.AppendUvarint(nil, uint64(count(counts, k)+1))); err != nil {
			return false, err
		}
	}
	return true, nil
}

func count(b *bolt.Bucket, k []byte) int {
	n, _ := binary.Uvarint(b.Get(k))
	return int(n)
}

// Pop moves up to n of the oldest queued items to the in-flight set and
// returns them; it returns none when the queue is empty.
func (f *Frontier) Pop(n int) ([]Item, error) {
	var out []Item
	err := f.db.Update(func(tx *bolt.Tx) error {
		out = out[:0]
		q, in := tx.Bucket(bucketQueue), tx.Bucket(bucketInflight)
		c := q.Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.First() {
			it, err := decodeItem(k, v)
			if err != nil {
				return err
			}
			if err := in.Put(k, v); err != nil {
				return err
			}
			if err := c.Delete(); err != nil {
				return err
			}
			out = append(out, it)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("frontier pop: %w", err)
	}
	f.queued -= len(out)
	return out, nil
}

// Len returns the number of queued items, not counting those in flight.
func (f *Frontier) Len() int { return f.queued }

// Close flushes the frontier to disk and closes it.
func (f *Frontier) Close() error {
	serr := f.db.Sync()
	if err := f.db.Close(); err != nil {
		return err
	}
	return serr
}
