package crawl

import (
	"fmt"
	"slices"
	"testing"
)

// complete retires done and admits found in one transaction, as a crawl
// does for a batch of visits.
func complete(t *testing.T, f *Frontier, done, found []Item) []Item {
	t.Helper()
	var added []Item
	err := f.Update(func(tx *Txn) error {
		for _, it := range done {
			if err := tx.Retire(it); err != nil {
				return err
			}
		}
		var err error
		added, _, err = tx.Add(found, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return added
}

func TestFrontierOrderLimitsAndReopen(t *testing.T) {
	dir := t.TempDir()
	lim := Limits{Depth: -1, PagesPerHost: 4, QueryVariants: 2}
	f, err := OpenFrontier(dir, lim)
	if err != nil {
		t.Fatal(err)
	}
	added, err := f.Push([]Item{{URL: "http://a/"}, {URL: "http://a/"}})
	if err != nil || len(added) != 1 {
		t.Fatalf("Push: %v %v (want one new item, the duplicate dropped)", added, err)
	}
	got, _ := f.Pop(10)
	if len(got) != 1 || got[0].URL != "http://a/" {
		t.Fatalf("Pop = %v", got)
	}
	found := []Item{
		{URL: "http://a/x?q=1", Depth: 1}, {URL: "http://a/x?q=2", Depth: 1},
		{URL: "http://a/x?q=3", Depth: 1},                            // third query variant of /x: over the limit
		{URL: "http://a/y", Depth: 1}, {URL: "http://a/z", Depth: 1}, // fifth URL on host a: over
		{URL: "http://b/", Depth: 1},
	}
	var urls []string
	for _, it := range complete(t, f, got, found) {
		urls = append(urls, it.URL)
	}
	want := []string{"http://a/x?q=1", "http://a/x?q=2", "http://a/y", "http://b/"}
	if !slices.Equal(urls, want) {
		t.Fatalf("added %q, want %q", urls, want)
	}
	if again := complete(t, f, nil, []Item{{URL: "http://b/"}}); len(again) != 0 {
		t.Errorf("a seen URL was queued again: %v", again)
	}
	two, _ := f.Pop(2) // in flight when "killed"
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = OpenFrontier(dir, lim)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Queued() != 4 {
		t.Errorf("Queued after reopen = %d, want 4 (two in flight returned to the queue)", f.Queued())
	}
	if tot := f.Totals(); tot.URLs != 5 {
		t.Errorf("Totals().URLs = %d, want 5", tot.URLs)
	}
	rest, _ := f.Pop(10)
	if len(rest) != 4 || rest[0] != two[0] || rest[1] != two[1] || rest[3].URL != "http://b/" {
		t.Errorf("after reopen Pop = %v; want the in-flight %v first, in order", rest, two)
	}
	// The limits' counters survive the reopen too.
	if more := complete(t, f, rest, []Item{{URL: "http://a/w"}, {URL: "http://a/x?q=9"}}); len(more) != 0 {
		t.Errorf("over-limit URLs admitted after reopen: %v", more)
	}
}

// TestFrontierHeldAndRetry: items beyond the depth limit are held and
// queued when the frontier is reopened with a larger limit; items kept for
// retry are queued again on reopen; a shrunk limit holds queued items.
func TestFrontierHeldAndRetry(t *testing.T) {
	dir := t.TempDir()
	f, err := OpenFrontier(dir, Limits{Depth: 1})
	if err != nil {
		t.Fatal(err)
	}
	f.Push([]Item{{URL: "http://a/"}})
	start, _ := f.Pop(1)
	added := complete(t, f, start, []Item{{URL: "http://a/1", Depth: 1}, {URL: "http://a/2", Depth: 2}})
	if len(added) != 1 || f.Held() != 1 {
		t.Fatalf("added %v, held %d; want /1 queued and /2 held", added, f.Held())
	}
	one, _ := f.Pop(1)
	if err := f.Update(func(tx *Txn) error { return tx.Retry(one[0]) }); err != nil {
		t.Fatal(err)
	}
	if rest, _ := f.Pop(10); len(rest) != 0 || f.Queued() != 0 || f.Retrying() != 1 {
		t.Fatalf("popped %v, queued %d, retrying %d; want nothing left but the retry", rest, f.Queued(), f.Retrying())
	}
	f.Close()
	if f, err = OpenFrontier(dir, Limits{Depth: 1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Pop(10); len(got) != 1 || got[0].URL != "http://a/1" || f.Held() != 1 {
		t.Fatalf("reopened at the same depth: popped %v, held %d; want the retry only", got, f.Held())
	}
	f.Close()
	if f, err = OpenFrontier(dir, Limits{Depth: 3}); err != nil {
		t.Fatal(err)
	}
	var released []Item
	if err := f.Update(func(tx *Txn) (err error) { released, err = tx.Release(); return err }); err != nil || len(released) != 1 {
		t.Fatalf("Release: %v, %v; want /2", released, err)
	}
	got, _ := f.Pop(10)
	if len(got) != 2 || got[0].URL != "http://a/1" || got[1].URL != "http://a/2" || f.Held() != 0 {
		t.Fatalf("reopened deeper: popped %v, held %d; want /1 (in flight) then the released /2", got, f.Held())
	}
	if again := complete(t, f, got, []Item{{URL: "http://a/2", Depth: 3}}); len(again) != 0 {
		t.Errorf("a released URL was admitted again: %v", again)
	}
	f.Close()
}

// TestSeenSetFlushAndReopen: the seen-set answers exactly across a flush
// of its in-memory part and across a reopen that reads its log back.
func TestSeenSetFlushAndReopen(t *testing.T) {
	defer func(f, r int) { flushAt, maxRunKeys = f, r }(flushAt, maxRunKeys)
	flushAt, maxRunKeys = 50, 120
	dir := t.TempDir()
	f, err := OpenFrontier(dir, Limits{Depth: -1})
	if err != nil {
		t.Fatal(err)
	}
	var items []Item
	for i := range 180 {
		items = append(items, Item{URL: fmt.Sprintf("http://a/%d", i)})
	}
	for i := 0; i < len(items); i += 20 {
		if added, _ := f.Push(items[i : i+20]); len(added) != 20 {
			t.Fatalf("batch %d: %d added, want 20", i, len(added))
		}
	}
	if added, _ := f.Push(items); len(added) != 0 {
		t.Fatalf("%d seen URLs added again", len(added))
	}
	f.Close()
	if f, err = OpenFrontier(dir, Limits{Depth: -1}); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if added, _ := f.Push(append(items, Item{URL: "http://a/new"})); len(added) != 1 {
		t.Fatalf("after reopen: %v added, want only http://a/new", added)
	}
}

func FuzzDecodeItem(f *testing.F) {
	f.Add([]byte{}, uint64(1))
	f.Add(encodeItem(Item{URL: "http://a/", Depth: 3, Parent: "http://b/"}), uint64(7))
	f.Fuzz(func(t *testing.T, v []byte, seq uint64) {
		it, err := decodeItem(seqKey(seq), v)
		if err != nil {
			return
		}
		back, err := decodeItem(seqKey(seq), encodeItem(it))
		if err != nil || back != it {
			t.Fatalf("round trip of %+v: %+v, %v", it, back, err)
		}
	})
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add([]byte{})
	var v []byte
	for i, u := range []string{"http://a/", "http://a/b?c=d"} {
		v = appendEntry(v, Item{URL: u, Depth: i, Parent: "http://p/", Seq: uint64(7 + i)})
	}
	f.Add(v)
	f.Fuzz(func(t *testing.T, v []byte) {
		items, err := decodeChunk(v)
		if err != nil {
			return
		}
		var again []byte
		for _, it := range items {
			again = appendEntry(again, it)
		}
		back, err := decodeChunk(again)
		if err != nil || !slices.Equal(back, items) {
			t.Fatalf("round trip of %+v: %+v, %v", items, back, err)
		}
	})
}
