package crawl

import (
	"testing"
)

func TestFrontierOrderLimitsAndReopen(t *testing.T) {
	dir := t.TempDir()
	f, err := OpenFrontier(dir, Limits{PagesPerHost: 4, QueryVariants: 2})
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
	added, err = f.Complete(got, found, []string{"http://b/moved"})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, it := range added {
		urls = append(urls, it.URL)
	}
	want := []string{"http://a/x?q=1", "http://a/x?q=2", "http://a/y", "http://b/"}
	if len(urls) != len(want) {
		t.Fatalf("added %q, want %q", urls, want)
	}
	for i := range want {
		if urls[i] != want[i] {
			t.Fatalf("added %q, want %q", urls, want)
		}
	}
	if again, _ := f.Complete(nil, []Item{{URL: "http://b/moved"}}, nil); len(again) != 0 {
		t.Errorf("a seen-only URL was queued: %v", again)
	}
	two, _ := f.Pop(2) // in flight when "killed"
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = OpenFrontier(dir, Limits{PagesPerHost: 4, QueryVariants: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Len() != 4 {
		t.Errorf("Len after reopen = %d, want 4 (two in flight returned to the queue)", f.Len())
	}
	rest, _ := f.Pop(10)
	if len(rest) != 4 || rest[0] != two[0] || rest[1] != two[1] || rest[3].URL != "http://b/" {
		t.Errorf("after reopen Pop = %v; want the in-flight %v first, in order", rest, two)
	}
	// The limits' counters survive the reopen too.
	if more, _ := f.Complete(rest, []Item{{URL: "http://a/w"}, {URL: "http://a/x?q=9"}}, nil); len(more) != 0 {
		t.Errorf("over-limit URLs admitted after reopen: %v", more)
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
