package crawl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketSeen     = []byte("seen")     // seenKey → 1: the seen-set of older versions
	bucketSeenRuns = []byte("seenruns") // n → sorted seenKeys (see seenSet)
	bucketSeenLog  = []byte("seenlog")  // n → seenKeys admitted since the last flush
	bucketHeldRuns = []byte("heldruns") // likewise for the URLs held
	bucketHeldLog  = []byte("heldlog")
	bucketQueue    = []byte("queue")    // seq → chunk of items waiting to be visited
	bucketInflight = []byte("inflight") // seq → item popped, not yet recorded
	bucketHeld     = []byte("held")     // seq → chunk of items found beyond the depth limit
	bucketRetry    = []byte("retry")    // seq → item to visit again on the next run
	bucketCounts   = []byte("counts")   // limit counters, totals, output offsets
	bucketDone     = []byte("done")     // seenKey → outcome of a visit, for redirects
	bucketWaiting  = []byte("waiting")  // seenKey → redirect hops waiting for that URL
	bucketPatterns = []byte("patterns") // URL pattern → depth it was first seen at
)

// Keys in bucketCounts besides the limit counters.
var (
	keyFormat     = []byte("m\x00format")
	keyQueued     = []byte("m\x00queued")
	keyHeld       = []byte("m\x00held")
	keySeq        = []byte("m\x00seq")
	keyDepth      = []byte("m\x00depth")
	keyVisited    = []byte("t\x00visited")
	keyURLs       = []byte("t\x00urls")
	keyPagesBytes = []byte("o\x00pages")
	keyURLsBytes  = []byte("o\x00urls")
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

// Limits bound what a Frontier admits, so that a site which generates
// endless URLs (calendars, session ids, faceted search) cannot grow the
// crawl without end.
type Limits struct {
	// Depth is the deepest item queued; deeper ones are held, and queued
	// when the frontier is opened again with a larger Depth. Unlike the
	// other limits, 0 is a limit (start URLs only); -1 means none.
	Depth int
	// PagesPerHost caps the URLs admitted per host (host:port), start
	// URLs included. 0 means unlimited.
	PagesPerHost int
	// QueryVariants caps the distinct query strings admitted per
	// scheme://host/path. 0 means unlimited.
	QueryVariants int
}

// Totals are a crawl's running totals, kept in the frontier across runs.
type Totals struct {
	Visited int // visits recorded: rows of pages.jsonl
	URLs    int // URLs admitted: lines of urls.txt
	// PagesBytes and URLsBytes are the sizes of pages.jsonl and urls.txt
	// at the last commit (-1 when the frontier does not know them): a
	// crawl killed between writing and committing truncates the files to
	// these sizes when it resumes, so nothing is recorded twice.
	PagesBytes, URLsBytes int64
}

// Frontier is a crawl's queue and seen-set, kept on disk in a bbolt file
// so that neither has to fit in memory and a killed crawl can resume.
//
// Items leave the queue in the order they entered it, which is
// breadth-first when each page's links are added after it is done. Pop
// moves items to an in-flight set and a Txn retires them; opening a
// frontier returns in-flight items, and items kept for retry, to the front
// of the queue, so after kill -9 only the pages not yet retired are
// fetched again. The seen-set is described on seenSet.
//
// Each Pop and Update is one transaction; callers batch them. The file is
// opened with NoSync: a commit reaches the OS page cache, which survives
// a crash of the process (kill -9) but not of the machine; Close syncs it.
// A Frontier is not safe for concurrent use.
type Frontier struct {
	db   *bolt.DB
	lim  Limits
	seen *seenSet // URLs admitted
	// heldSeen holds the URLs held beyond the depth limit. They are not in
	// seen, so that a URL held when found too deep is still admitted when
	// a page visited later links to it from a shallower depth.
	heldSeen *seenSet
	seq      uint64
	tot      Totals

	queued, inflight, held, retry int
	releaseDue                    bool // the depth limit grew: see Txn.Release
}

// OpenFrontier opens or creates the frontier in dir (the file
// dir/frontier.db) with the given limits.
func OpenFrontier(dir string, lim Limits) (*Frontier, error) {
	db, err := bolt.Open(filepath.Join(dir, "frontier.db"), 0o644, &bolt.Options{
		NoSync: true, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
		Timeout: 5 * time.Second, // callers lock the directory first; this is a backstop
	})
	if err != nil {
		return nil, fmt.Errorf("open frontier: %w", err)
	}
	f := &Frontier{db: db, lim: lim, tot: Totals{PagesBytes: -1, URLsBytes: -1}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSeen, bucketSeenRuns, bucketSeenLog, bucketHeldRuns, bucketHeldLog, bucketQueue, bucketInflight, bucketHeld,
			bucketRetry, bucketCounts, bucketDone, bucketWaiting, bucketPatterns} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return f.recover(tx)
	})
	if err == nil {
		err = db.View(func(tx *bolt.Tx) error {
			f.seen = loadSeen(tx, bucketSeenRuns, bucketSeenLog)
			f.heldSeen = loadSeen(tx, bucketHeldRuns, bucketHeldLog)
			return nil
		})
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open frontier: %w", err)
	}
	return f, nil
}

// recover puts items left in flight or kept for retry back at the front of
// the queue, queues held items the depth limit now allows, and loads the
// counters.
func (f *Frontier) recover(tx *bolt.Tx) error {
	counts, q := tx.Bucket(bucketCounts), tx.Bucket(bucketQueue)
	if counts.Get(keyFormat) == nil {
		if k, _ := tx.Bucket(bucketSeen).Cursor().First(); k != nil {
			return errOldFormat
		}
		if err := putCount(counts, keyFormat, 2); err != nil {
			return err
		}
	}
	f.seq = uint64(count(counts, keySeq))
	f.queued, f.held = count(counts, keyQueued), count(counts, keyHeld)
	f.tot.Visited, f.tot.URLs = count(counts, keyVisited), count(counts, keyURLs)
	if v := counts.Get(keyPagesBytes); v != nil {
		f.tot.PagesBytes = int64(count(counts, keyPagesBytes))
		f.tot.URLsBytes = int64(count(counts, keyURLsBytes))
	}
	// In-flight and retry items have lower sequence numbers than anything
	// still queued, so putting them back under their own keys puts them
	// first, in their original order.
	for _, name := range [][]byte{bucketInflight, bucketRetry} {
		b := tx.Bucket(name)
		err := b.ForEach(func(k, v []byte) error {
			it, err := decodeItem(k, v)
			if err != nil {
				return err
			}
			f.queued++
			return putChunks(q, []Item{it})
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(name); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	// The depth is stored plus one, so that unlimited (-1) is 0. Held
	// items are released by the first Update (see Txn.Release).
	if counts.Get(keyDepth) == nil {
		if err := putCount(counts, keyDepth, f.lim.Depth+1); err != nil {
			return err
		}
	}
	before := count(counts, keyDepth) - 1
	f.releaseDue = f.held > 0 && (f.lim.Depth < 0 || (before >= 0 && f.lim.Depth > before))
	for _, c := range []struct {
		k []byte
		v int
	}{{keySeq, int(f.seq)}, {keyQueued, f.queued}} {
		if err := putCount(counts, c.k, c.v); err != nil {
			return err
		}
	}
	return nil
}

// errOldFormat reports a state directory written by an older crew, whose
// frontier this one does not read.
var errOldFormat = errors.New("the state was written by an older version of crew; finish that crawl with it, or delete the state directory to start over")

func seqKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n)
}

func beUint64(k []byte) uint64 {
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}

// encodeItem is the on-disk form of a queued item: depth, URL length, URL,
// parent.
func encodeItem(it Item) []byte { return encodeTriple(uint64(it.Depth), it.URL, it.Parent) }

var errCorrupt = errors.New("frontier: corrupt item")

func decodeItem(k, v []byte) (Item, error) {
	d, u, parent, ok := decodeTriple(v)
	if !ok || d > 1<<31 {
		return Item{}, errCorrupt
	}
	return Item{URL: u, Parent: parent, Depth: int(d), Seq: beUint64(k)}, nil
}

// encodeTriple writes a number and two strings: uvarint n, uvarint len(a),
// a, b (b runs to the end).
func encodeTriple(n uint64, a, b string) []byte {
	return appendTriple(make([]byte, 0, 2*binary.MaxVarintLen64+len(a)+len(b)), n, a, b)
}

func appendTriple(v []byte, n uint64, a, b string) []byte {
	v = binary.AppendUvarint(v, n)
	v = binary.AppendUvarint(v, uint64(len(a)))
	return append(append(v, a...), b...)
}

// tripleLen is the length of encodeTriple's result.
func tripleLen(n uint64, a, b string) int {
	return uvarintLen(n) + uvarintLen(uint64(len(a))) + len(a) + len(b)
}

func uvarintLen(n uint64) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

func decodeTriple(v []byte) (n uint64, a, b string, ok bool) {
	n, i := binary.Uvarint(v)
	if i <= 0 {
		return 0, "", "", false
	}
	v = v[i:]
	l, i := binary.Uvarint(v)
	if i <= 0 || uint64(len(v)-i) < l {
		return 0, "", "", false
	}
	v = v[i:]
	return n, string(v[:l]), string(v[l:]), true
}

// Push adds the items whose URLs were never seen, ignoring the limits
// other than Depth, and returns those queued. Use it for start URLs.
func (f *Frontier) Push(items []Item) ([]Item, error) {
	var added []Item
	err := f.Update(func(t *Txn) error {
		var err error
		added, _, err = t.Add(items, false)
		return err
	})
	return added, err
}

// admit counts a new URL against the limits and, if check is set, refuses
// it when a limit is reached.
func (f *Frontier) admit(counts *bolt.Bucket, raw string, check bool) (bool, error) {
	if f.lim.PagesPerHost <= 0 && f.lim.QueryVariants <= 0 {
		return true, nil
	}
	var keys [2][]byte
	host := hostOf(raw)
	if f.lim.PagesPerHost > 0 {
		k := append([]byte("h\x00"), host...)
		if check && count(counts, k) >= f.lim.PagesPerHost {
			return false, nil
		}
		keys[0] = k
	}
	if q := indexQuery(raw); f.lim.QueryVariants > 0 && q >= 0 {
		u, err := url.Parse(raw)
		if err != nil {
			return false, nil
		}
		k := append([]byte("v\x00"), u.Scheme+"://"+u.Host+u.EscapedPath()...)
		if check && count(counts, k) >= f.lim.QueryVariants {
			return false, nil
		}
		keys[1] = k
	}
	for _, k := range keys {
		if k != nil {
			if err := putCount(counts, k, count(counts, k)+1); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// indexQuery returns the index of a canonical URL's non-empty query, or -1.
func indexQuery(u string) int {
	for i := 0; i < len(u); i++ {
		if u[i] == '?' {
			if i+1 < len(u) {
				return i
			}
			return -1
		}
	}
	return -1
}

func count(b *bolt.Bucket, k []byte) int {
	n, _ := binary.Uvarint(b.Get(k))
	return int(n)
}

func putCount(b *bolt.Bucket, k []byte, n int) error {
	return b.Put(k, binary.AppendUvarint(nil, uint64(max(n, 0))))
}

// Pop moves up to n of the oldest queued items to the in-flight set and
// returns them; it returns none when the queue is empty. Items deeper than
// the depth limit (left queued by a run with a larger one) are held
// instead.
func (f *Frontier) Pop(n int) ([]Item, error) {
	var out, held []Item
	err := f.db.Update(func(tx *bolt.Tx) error {
		out, held = out[:0], held[:0]
		q, in := tx.Bucket(bucketQueue), tx.Bucket(bucketInflight)
		c := q.Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.First() {
			items, err := decodeChunk(v)
			if err != nil {
				return err
			}
			if err := c.Delete(); err != nil {
				return err
			}
			i := 0
			for ; i < len(items) && len(out) < n; i++ {
				it := items[i]
				if f.lim.Depth >= 0 && it.Depth > f.lim.Depth {
					held = append(held, it)
					continue
				}
				if err := in.Put(seqKey(it.Seq), encodeItem(it)); err != nil {
					return err
				}
				out = append(out, it)
			}
			if err := putChunks(q, items[i:]); err != nil {
				return err
			}
		}
		if err := putChunks(tx.Bucket(bucketHeld), held); err != nil {
			return err
		}
		counts := tx.Bucket(bucketCounts)
		if err := putCount(counts, keyQueued, f.queued-len(out)-len(held)); err != nil {
			return err
		}
		return putCount(counts, keyHeld, f.held+len(held))
	})
	if err != nil {
		return nil, fmt.Errorf("frontier pop: %w", err)
	}
	f.queued -= len(out) + len(held)
	f.inflight += len(out)
	f.held += len(held)
	return out, nil
}

// Queued returns the number of items waiting to be visited, in flight
// ones included (they are queued again if the crawl stops now).
func (f *Frontier) Queued() int { return f.queued + f.inflight }

// Held returns the number of URLs found beyond the depth limit.
func (f *Frontier) Held() int { return f.held }

// Retrying returns the number of items kept to be visited again on the
// next run.
func (f *Frontier) Retrying() int { return f.retry }

// Totals returns the crawl's totals as of the last commit.
func (f *Frontier) Totals() Totals { return f.tot }

// Close flushes the frontier to disk and closes it.
func (f *Frontier) Close() error {
	serr := f.db.Sync()
	if err := f.db.Close(); err != nil {
		return err
	}
	return serr
}

// Patterns returns every URL pattern recorded with Txn.SetPattern and the
// depth it was first seen at.
func (f *Frontier) Patterns() (map[string]int, error) {
	m := map[string]int{}
	err := f.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPatterns).ForEach(func(k, v []byte) error {
			d, _ := binary.Uvarint(v)
			m[string(k)] = int(d)
			return nil
		})
	})
	return m, err
}
