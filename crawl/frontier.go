package crawl

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketSeen     = []byte("seen")
	bucketQueue    = []byte("queue")
	bucketInflight = []byte("inflight")
)

// Item is one queued URL: its canonical form, its depth from a start URL
// and the page it was found on ("" for start URLs).
type Item struct {
	URL    string `json:"u"`
	Depth  int    `json:"d"`
	Parent string `json:"p,omitempty"`
}

// Frontier is the crawl's queue and seen-set, kept on disk in a bbolt file
// so neither has to fit in memory and a killed crawl can resume.
//
// Items leave the queue in insertion order (breadth-first when pushed by
// depth). Pop moves an item to an in-flight set; Done removes it. Opening a
// frontier moves in-flight items back to the front of the queue, so after
// kill -9 only the pages in flight at the time are fetched again.
//
// The file is opened with NoSync: writes reach the OS page cache at each
// commit, which survives a process crash (kill -9) but not a power loss;
// Sync flushes to disk and is called by Close. A Frontier is not safe for
// concurrent use; Crawl drives it from one goroutine.
type Frontier struct {
	db  *bolt.DB
	seq uint64
}

// OpenFrontier opens or creates the frontier in dir.
func OpenFrontier(dir string) (*Frontier, error) {
	db, err := bolt.Open(filepath.Join(dir, "frontier.db"), 0o644, &bolt.Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open frontier: %w", err)
	}
	f := &Frontier{db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSeen, bucketQueue, bucketInflight} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		q, in := tx.Bucket(bucketQueue), tx.Bucket(bucketInflight)
		// Re-queue in-flight items ahead of everything queued: keys below
		// the queue's first key keep them first.
		first := uint64(1 << 62)
		if k, _ := q.Cursor().First(); k != nil {
			first = binary.BigEndian.Uint64(k)
		}
		var keys [][]byte
		c := in.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			keys = append(keys, k)
			first--
			if err := q.Put(key(first), v); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := in.Delete(k); err != nil {
				return err
			}
		}
		if k, _ := q.Cursor().Last(); k != nil {
			f.seq = binary.BigEndian.Uint64(k)
		}
		if f.seq < 1<<62 {
			f.seq = 1 << 62
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open frontier: %w", err)
	}
	return f, nil
}

func key(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func (f *Frontier) update(done *Item, items []Item) ([]Item, error) {
	var added []Item
	err := f.db.Update(func(tx *bolt.Tx) error {
		added = added[:0]
		if done != nil {
			if err := tx.Bucket(bucketInflight).Delete([]byte(done.URL)); err != nil {
				return err
			}
		}
		seen, q := tx.Bucket(bucketSeen), tx.Bucket(bucketQueue)
		seq := f.seq
		for _, it := range items {
			if seen.Get([]byte(it.URL)) != nil {
				continue
			}
			if err := seen.Put([]byte(it.URL), []byte{}); err != nil {
				return err
			}
			v, err := json.Marshal(it)
			if err != nil {
				return err
			}
			seq++
			if err := q.Put(key(seq), v); err != nil {
				return err
			}
			added = append(added, it)
		}
		f.seq = seq
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("frontier push: %w", err)
	}
	return added, nil
}

// Pop moves the oldest queued item to the in-flight set and returns it; ok
// is false when the queue is empty.
func (f *Frontier) Pop() (it Item, ok bool, err error) {
	err = f.db.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueue)
		k, v := q.Cursor().First()
		if k == nil {
			return nil
		}
		if err := json.Unmarshal(v, &it); err != nil {
			return err
		}
		if err := tx.Bucket(bucketInflight).Put([]byte(it.URL), v); err != nil {
			return err
		}
		ok = true
		return q.Delete(k)
	})
	if err != nil {
		return Item{}, false, fmt.Errorf("frontier pop: %w", err)
	}
	return it, ok, nil
}

// Done removes a popped item from the in-flight set and pushes the links
// found on it, in one transaction, returning the new ones.
func (f *Frontier) Done(it Item, links []Item) ([]Item, error) {
	return f.update(&it, links)
}

// Push adds the items whose URLs were never seen, in one transaction, and
// returns those that were new. The seen check and set are atomic.
func (f *Frontier) Push(items []Item) ([]Item, error) { return f.update(nil, items) }

// Len returns the number of queued items.
func (f *Frontier) Len() int {
	n := 0
	_ = f.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketQueue).Stats().KeyN
		return nil
	})
	return n
}

// Close flushes the frontier to disk and closes it.
func (f *Frontier) Close() error {
	serr := f.db.Sync()
	if err := f.db.Close(); err != nil {
		return err
	}
	return serr
}
