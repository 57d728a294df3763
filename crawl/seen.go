package crawl

import (
	"bytes"
	"crypto/sha256"
	"slices"

	"github.com/bits-and-blooms/bloom/v3"
	bolt "go.etcd.io/bbolt"
)

// seenKey is the seen-set's key for a canonical URL: a 128-bit SHA-256
// prefix, so the set's size does not depend on URL length.
type seenKey [16]byte

func keyOf(u string) seenKey {
	h := sha256.Sum256([]byte(u))
	return seenKey(h[:16])
}

// seenSet is the frontier's set of every URL ever admitted, kept so that
// inserting 100 000 new URLs a second does not mean 100 000 random B+tree
// inserts a second:
//
//   - hashes admitted since the last flush are kept in recent, in memory,
//     and logged durably in bucketSeenLog as one value per transaction (a
//     sequential write), so a crawl killed with kill -9 loses none of them;
//   - every flushAt new hashes, recent is written to the bucketSeen B+tree
//     in sorted order, in one transaction that also empties the log;
//   - a Bloom filter over the whole set answers most "never seen" queries
//     without touching the tree; its positives are checked against recent
//     and the tree, so the set stays exact.
//
// Memory is bounded: recent holds at most flushAt hashes, and the filters
// stop growing at maxFilterBits (past that their false positive rate
// rises and more lookups reach the tree, still exactly).
type seenSet struct {
	filters []*bloom.BloomFilter
	room    uint // hashes the newest filter takes before a larger one is added
	last    uint // capacity of the newest filter
	bits    uint // bits in all filters
	recent  map[seenKey]struct{}
	logSeq  uint64 // key of the last bucketSeenLog value
}

// Sizes of the seen-set; variables for tests.
var (
	flushAt       = 1 << 18
	firstFilter   = uint(1 << 20)
	maxFilterBits = uint(512 << 20) // 64 MiB
)

const filterFP = 0.01

// loadSeen builds the in-memory side of the set from the tree and the log.
func loadSeen(tx *bolt.Tx) *seenSet {
	tree, log := tx.Bucket(bucketSeen), tx.Bucket(bucketSeenLog)
	n := uint(tree.Stats().KeyN)
	s := &seenSet{recent: map[seenKey]struct{}{}}
	s.grow(max(firstFilter, 2*n))
	tree.ForEach(func(k, _ []byte) error {
		s.addFilter(k)
		return nil
	})
	log.ForEach(func(k, v []byte) error {
		for ; len(v) >= len(seenKey{}); v = v[len(seenKey{}):] {
			s.recent[seenKey(v)] = struct{}{}
			s.addFilter(v[:len(seenKey{})])
		}
		s.logSeq = max(s.logSeq, beUint64(k))
		return nil
	})
	return s
}

func (s *seenSet) grow(capacity uint) {
	f := bloom.NewWithEstimates(capacity, filterFP)
	s.filters = append(s.filters, f)
	s.room, s.last = capacity, capacity
	s.bits += f.Cap()
}

func (s *seenSet) addFilter(k []byte) {
	if s.room == 0 && s.bits < maxFilterBits {
		s.grow(2 * s.last)
	}
	if s.room > 0 {
		s.room--
	}
	s.filters[len(s.filters)-1].Add(k)
}

func (s *seenSet) mayContain(k []byte) bool {
	for _, f := range s.filters {
		if f.Test(k) {
			return true
		}
	}
	return false
}

// contains reports whether k is in the set.
func (s *seenSet) contains(tx *bolt.Tx, k seenKey) bool {
	if _, ok := s.recent[k]; ok {
		return true
	}
	if !s.mayContain(k[:]) {
		return false
	}
	return tx.Bucket(bucketSeen).Get(k[:]) != nil
}

// add puts k in the set for the transaction that logs it (see logAdded);
// if that transaction fails, forget takes it out again.
func (s *seenSet) add(k seenKey) {
	s.recent[k] = struct{}{}
	s.addFilter(k[:])
}

// forget undoes add for hashes of a failed transaction. The filter keeps
// them, which only costs a lookup in the tree later.
func (s *seenSet) forget(logged []byte) {
	for ; len(logged) >= len(seenKey{}); logged = logged[len(seenKey{}):] {
		delete(s.recent, seenKey(logged))
	}
}

// logAdded writes the hashes a transaction added to the log, and flushes
// recent to the tree when it has grown to flushAt. It returns whether it
// flushed; the caller calls flushed after the commit.
func (s *seenSet) logAdded(tx *bolt.Tx, logged []byte) (flushing bool, err error) {
	if len(s.recent) >= flushAt {
		keys := make([]seenKey, 0, len(s.recent))
		for k := range s.recent {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b seenKey) int { return bytes.Compare(a[:], b[:]) })
		tree := tx.Bucket(bucketSeen)
		tree.FillPercent = 0.9 // sorted runs of inserts: pack the pages
		for _, k := range keys {
			if err := tree.Put(k[:], []byte{1}); err != nil {
				return false, err
			}
		}
		if err := tx.DeleteBucket(bucketSeenLog); err != nil {
			return false, err
		}
		_, err := tx.CreateBucket(bucketSeenLog)
		return true, err
	}
	if len(logged) == 0 {
		return false, nil
	}
	s.logSeq++
	return false, tx.Bucket(bucketSeenLog).Put(seqKey(s.logSeq), logged)
}

// flushed empties recent after a flush was committed.
func (s *seenSet) flushed() {
	s.recent = make(map[seenKey]struct{}, flushAt)
	s.logSeq = 0
}
