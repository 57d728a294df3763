package crawl

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/bits-and-blooms/bloom/v3"
	bolt "go.etcd.io/bbolt"
)

// seenKey is the seen-set's key for a canonical URL: a 128-bit SHA-256
// prefix, so the set's size does not depend on URL length.
type seenKey [16]byte

const keyLen = len(seenKey{})

func keyOf(u string) seenKey {
	h := sha256.Sum256([]byte(u))
	return seenKey(h[:keyLen])
}

// seenSet is the frontier's set of every URL ever admitted, built so that
// admitting 100 000 new URLs a second costs sequential writes, not 100 000
// random B+tree inserts:
//
//   - keys admitted since the last flush are kept in recent, in memory,
//     and logged durably in its log bucket as one value per transaction, so
//     a crawl killed with kill -9 loses none of them;
//   - every flushAt new keys, recent is sorted and written as one value, a
//     run, in its runs bucket, in the transaction that also empties the log;
//     runs of similar size are merged (as an LSM tree does), so there are
//     few of them, each at most maxRunKeys long;
//   - a Bloom filter over the whole set answers most "never seen" queries
//     in memory; its positives are checked against recent and by binary
//     search in the runs, so the set is exact.
//
// Memory stays bounded: recent holds at most flushAt keys, a merge at most
// 2×maxRunKeys, and the filters stop growing at maxFilterBits (past that
// their false positive rate rises and more lookups reach the runs).
type seenSet struct {
	filters []*bloom.BloomFilter
	room    uint // keys the newest filter takes before a larger one is added
	last    uint // capacity of the newest filter
	bits    uint // bits in all filters
	recent  map[seenKey]struct{}
	logSeq  uint64 // key of the last value in the log bucket
	runs    []run  // oldest first
	nextRun uint64

	runsName, logName []byte // its buckets
}

type run struct {
	id uint64
	n  int // keys
}

// Sizes of the seen-set; variables for tests.
var (
	flushAt       = 1 << 18
	maxRunKeys    = 1 << 21
	firstFilter   = uint(1 << 20)
	maxFilterBits = uint(512 << 20) // 64 MiB
)

// filterK is the number of bits set per key, the best for a 1% false
// positive rate.
const filterK = 7

// loadSeen builds the in-memory side of the set kept in the buckets
// runsName and logName.
func loadSeen(tx *bolt.Tx, runsName, logName []byte) *seenSet {
	s := &seenSet{recent: map[seenKey]struct{}{}, runsName: runsName, logName: logName}
	runs, log := tx.Bucket(runsName), tx.Bucket(logName)
	n := 0
	runs.ForEach(func(k, v []byte) error {
		s.runs = append(s.runs, run{id: beUint64(k), n: len(v) / keyLen})
		s.nextRun = beUint64(k) + 1
		n += len(v) / keyLen
		return nil
	})
	s.grow(max(firstFilter, 2*uint(n)))
	runs.ForEach(func(_, v []byte) error {
		for ; len(v) >= keyLen; v = v[keyLen:] {
			s.addFilter(seenKey(v))
		}
		return nil
	})
	log.ForEach(func(k, v []byte) error {
		for ; len(v) >= keyLen; v = v[keyLen:] {
			s.recent[seenKey(v)] = struct{}{}
			s.addFilter(seenKey(v))
		}
		s.logSeq = max(s.logSeq, beUint64(k))
		return nil
	})
	return s
}

func (s *seenSet) grow(capacity uint) {
	m, _ := bloom.EstimateParameters(capacity, 0.01)
	f := bloom.New(m, filterK)
	s.filters = append(s.filters, f)
	s.room, s.last = capacity, capacity
	s.bits += f.Cap()
}

// locations are the key's filter positions before reduction modulo a
// filter's size: the key is already a uniform hash, so its two halves
// serve as the double-hashing pair.
func locations(k seenKey) [filterK]uint64 {
	h1, h2 := binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint64(k[8:])|1
	var locs [filterK]uint64
	for i := range locs {
		locs[i] = h1 + uint64(i)*h2
	}
	return locs
}

func (s *seenSet) addFilter(k seenKey) {
	if s.room == 0 && s.bits < maxFilterBits {
		s.grow(2 * s.last)
	}
	if s.room > 0 {
		s.room--
	}
	f := s.filters[len(s.filters)-1]
	m := uint64(f.Cap())
	for _, l := range locations(k) {
		f.BitSet().Set(uint(l % m))
	}
}

func (s *seenSet) mayContain(k seenKey) bool {
	locs := locations(k)
	for _, f := range s.filters {
		if f.TestLocations(locs[:]) {
			return true
		}
	}
	return false
}

// contains reports whether k is in the set.
func (s *seenSet) contains(tx *bolt.Tx, k seenKey) bool {
	if !s.mayContain(k) {
		return false // the filter holds every key, recent's included
	}
	if _, ok := s.recent[k]; ok {
		return true
	}
	runs := tx.Bucket(s.runsName)
	for _, r := range s.runs {
		if inRun(runs.Get(seqKey(r.id)), k) {
			return true
		}
	}
	return false
}

// inRun binary-searches a run (sorted keys, back to back) for k.
func inRun(v []byte, k seenKey) bool {
	lo, hi := 0, len(v)/keyLen
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch c := bytes.Compare(v[mid*keyLen:(mid+1)*keyLen], k[:]); {
		case c == 0:
			return true
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return false
}

// add puts k in the set for the transaction that logs it (see logAdded);
// if that transaction fails, forget takes it out again.
func (s *seenSet) add(k seenKey) {
	s.recent[k] = struct{}{}
	s.addFilter(k)
}

// forget undoes add for the keys of a failed transaction. The filter keeps
// them, which only costs a search of the runs later.
func (s *seenSet) forget(logged []byte) {
	for ; len(logged) >= keyLen; logged = logged[keyLen:] {
		delete(s.recent, seenKey(logged))
	}
}

// seenCommit is what a transaction changed in the set's in-memory side,
// applied by committed once the transaction has committed.
type seenCommit struct {
	flushed bool
	runs    []run
	nextRun uint64
	logSeq  uint64
}

// logAdded writes the keys a transaction added to the log or, when recent
// has reached flushAt, writes recent as a new run (merging runs of similar
// size) and empties the log.
func (s *seenSet) logAdded(tx *bolt.Tx, logged []byte) (seenCommit, error) {
	c := seenCommit{runs: s.runs, nextRun: s.nextRun, logSeq: s.logSeq}
	if len(s.recent) < flushAt {
		if len(logged) == 0 {
			return c, nil
		}
		c.logSeq++
		return c, tx.Bucket(s.logName).Put(seqKey(c.logSeq), logged)
	}
	keys := make([]byte, 0, len(s.recent)*keyLen)
	for k := range s.recent {
		keys = append(keys, k[:]...)
	}
	sortKeys(keys)
	b := tx.Bucket(s.runsName)
	c.runs = slices.Clone(s.runs)
	for {
		// Merge the newest run into the new one while it is no more than
		// twice as large and the result stays within maxRunKeys.
		n := len(c.runs)
		if n == 0 {
			break
		}
		prev := c.runs[n-1]
		if nk := len(keys) / keyLen; prev.n > 2*nk || prev.n+nk > maxRunKeys {
			break
		}
		keys = mergeKeys(b.Get(seqKey(prev.id)), keys)
		if err := b.Delete(seqKey(prev.id)); err != nil {
			return c, err
		}
		c.runs = c.runs[:n-1]
	}
	c.runs = append(c.runs, run{id: c.nextRun, n: len(keys) / keyLen})
	if err := b.Put(seqKey(c.nextRun), keys); err != nil {
		return c, err
	}
	c.nextRun++
	if err := tx.DeleteBucket(s.logName); err != nil {
		return c, err
	}
	_, err := tx.CreateBucket(s.logName)
	c.flushed, c.logSeq = true, 0
	return c, err
}

// committed applies a committed transaction's changes.
func (s *seenSet) committed(c seenCommit) {
	s.runs, s.nextRun, s.logSeq = c.runs, c.nextRun, c.logSeq
	if c.flushed {
		s.recent = make(map[seenKey]struct{}, flushAt)
	}
}

// sortKeys sorts back-to-back keys in place.
func sortKeys(b []byte) {
	ks := make([]seenKey, len(b)/keyLen)
	for i := range ks {
		ks[i] = seenKey(b[i*keyLen:])
	}
	slices.SortFunc(ks, func(x, y seenKey) int { return bytes.Compare(x[:], y[:]) })
	for i := range ks {
		copy(b[i*keyLen:], ks[i][:])
	}
}

// mergeKeys merges two sorted runs of keys into a new one.
func mergeKeys(a, b []byte) []byte {
	out := make([]byte, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if bytes.Compare(a[:keyLen], b[:keyLen]) <= 0 {
			out, a = append(out, a[:keyLen]...), a[keyLen:]
		} else {
			out, b = append(out, b[:keyLen]...), b[keyLen:]
		}
	}
	return append(append(out, a...), b...)
}
