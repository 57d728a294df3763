package fetch

import (
	"hash/maphash"
	"math"
)

// seenGeneration is how many file names one generation of seenFiles holds.
const seenGeneration = 1 << 19

// seenFiles remembers which input claimed each file name, in bounded
// memory: 64-bit hashes of the names (a false match between two names is
// a 1 in 10^7 chance for a million names) with the claiming line, in two
// generations. When the current generation is full it becomes the old one
// and the oldest is dropped, so the last 2^19 to 2^20 names are always
// remembered, in about 16 MiB at most.
type seenFiles struct {
	seed     maphash.Seed
	cur, old map[uint64]uint32
}

func newSeenFiles() *seenFiles {
	return &seenFiles{seed: maphash.MakeSeed(), cur: map[uint64]uint32{}}
}

// claim records name for the input on line, or reports the line of the
// earlier input that claimed it.
func (s *seenFiles) claim(name string, line int) (prev int, dup bool) {
	h := maphash.String(s.seed, name)
	if l, ok := s.cur[h]; ok {
		return int(l), true
	}
	if l, ok := s.old[h]; ok {
		return int(l), true
	}
	if len(s.cur) >= seenGeneration {
		s.old, s.cur = s.cur, make(map[uint64]uint32, seenGeneration/4)
	}
	s.cur[h] = uint32(min(max(line, 0), math.MaxUint32))
	return 0, false
}
