package fetch

import (
	"hash/maphash"
	"math"
)

// seenGeneration is how many file names one generation of seenFiles holds.
const seenGeneration = 1 << 18

// seenFiles remembers which input claimed each file name, in bounded
// memory: 64-bit hashes of the names (two names share one with odds of
// about 1 in 10^8 for a million names) with the claiming line, in two
// generations. When the current generation is full it becomes the old one
// and the oldest is dropped, so the last 2^18 to 2^19 names are always
// remembered, in at most 12 MiB.
type seenFiles struct {
	seed     maphash.Seed
	cur, old hashTable
}

func newSeenFiles() *seenFiles { return &seenFiles{seed: maphash.MakeSeed()} }

// claim records name for the input on line, or reports the line of the
// earlier input that claimed it.
func (s *seenFiles) claim(name string, line int) (prev int, dup bool) {
	h := maphash.String(s.seed, name) | 1 // 0 marks an empty slot
	if l, ok := s.cur.get(h); ok {
		return int(l), true
	}
	if l, ok := s.old.get(h); ok {
		return int(l), true
	}
	if s.cur.n >= seenGeneration {
		s.old, s.cur = s.cur, s.old
		s.cur.clear()
	}
	s.cur.put(h, uint32(min(max(line, 0), math.MaxUint32)))
	return 0, false
}

// hashTable is an open-addressing set of non-zero 64-bit hashes with a
// line each, kept at most half full.
type hashTable struct {
	keys  []uint64
	lines []uint32
	n     int
}

func (t *hashTable) get(h uint64) (uint32, bool) {
	if len(t.keys) == 0 {
		return 0, false
	}
	mask := uint64(len(t.keys) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.keys[i] {
		case h:
			return t.lines[i], true
		case 0:
			return 0, false
		}
	}
}

func (t *hashTable) put(h uint64, line uint32) {
	if 2*(t.n+1) > len(t.keys) {
		t.grow()
	}
	mask := uint64(len(t.keys) - 1)
	i := h & mask
	for t.keys[i] != 0 {
		i = (i + 1) & mask
	}
	t.keys[i], t.lines[i] = h, line
	t.n++
}

func (t *hashTable) grow() {
	old := *t
	size := max(1024, 2*len(old.keys))
	*t = hashTable{keys: make([]uint64, size), lines: make([]uint32, size)}
	for i, k := range old.keys {
		if k != 0 {
			t.put(k, old.lines[i])
		}
	}
}

// clear empties t, keeping its arrays for the next generation.
func (t *hashTable) clear() {
	clear(t.keys)
	t.n = 0
}
