package fetch

import (
	"fmt"
	"runtime"
	"testing"
)

// TestSeenFilesBounded: past two generations, seenFiles forgets the
// oldest names and its memory stays bounded, while it always remembers
// the last seenGeneration.
func TestSeenFilesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("claims 2.5 million names")
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	s := newSeenFiles()
	const n = 5 * seenGeneration
	var peak uint64
	for i := range n {
		if _, dup := s.claim(fmt.Sprintf("host/p%d", i), i+1); dup {
			t.Fatalf("name %d taken for a duplicate", i)
		}
		if i%seenGeneration == seenGeneration-1 {
			peak = max(peak, heap()-before)
		}
	}
	for i := n - seenGeneration; i < n; i++ {
		if prev, dup := s.claim(fmt.Sprintf("host/p%d", i), 0); !dup || prev != i+1 {
			t.Fatalf("name %d of the last generation forgotten: %d %v", i, prev, dup)
		}
	}
	if _, dup := s.claim("host/p0", 0); dup {
		t.Error("the oldest name still remembered")
	}
	t.Logf("peak %.1f MiB for %d names", float64(peak)/(1<<20), n)
	if peak > 16<<20 {
		t.Errorf("seenFiles holds %.1f MiB, want at most 16", float64(peak)/(1<<20))
	}
	runtime.KeepAlive(s)
}
