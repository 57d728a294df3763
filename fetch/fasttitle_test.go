package fetch

import (
	"math/rand/v2"
	"strings"
	"testing"
)

var titleSeeds = []string{
	"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>page /p1</title></head><body><p>lorem</p></body></html>",
	"<title>a &amp; b &lt;c&gt; &#32;x\x00y</title>",
	"<TITLE lang=en>Upper</TITLE >",
	"<p a=/><title>after</title>",
	"<title/>skip</title><title>real</title>",
	"<title a='>'>quoted > in attribute</title>",
	"<!-- <title>commented</title> --><title>real</title>",
	"<script>var t = '<title>no</title>'</script><title>yes</title>",
	"<svg><title>icon</title></svg><title>page</title>",
	"<title>unterminated",
	"<title>x</titlex></title>",
	"</ title><title>t</title>",
	"<?xml version=\"1.0\"?><title>xml</title>",
	"<<title>double</title>",
	"<a b c=\"d\" e='f' g=h i><title>attrs</title>",
	"<title>bad \xff utf8</title>",
	"<a =b><title>eq</title>",
	"<title",
	"<a href=x",
	"</",
	"<!",
	"<!-",
	"<title>a</title/><title>b</title>",
}

// FuzzFastTitle holds fastTitle to the tokenizer's answer whenever it
// gives one.
func FuzzFastTitle(f *testing.F) {
	for _, s := range titleSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := fastTitle([]byte(s))
		if !ok {
			return
		}
		if want := tokenizedTitle([]byte(s), "text/html; charset=utf-8"); got != want {
			t.Fatalf("fastTitle(%q) = %q, the tokenizer says %q", s, got, want)
		}
	})
}

func TestFastTitleAnswersTheUsualPage(t *testing.T) {
	page := titleSeeds[0]
	if got, ok := fastTitle([]byte(page)); !ok || got != "page /p1" {
		t.Errorf("fastTitle = %q, %v", got, ok)
	}
	for _, s := range titleSeeds {
		if got, want := Title([]byte(s), "text/html; charset=UTF-8"), tokenizedTitle([]byte(s), "text/html; charset=utf-8"); got != want {
			t.Errorf("Title(%q) = %q, tokenizer %q", s, got, want)
		}
	}
	if !declaresUTF8("Text/HTML; Charset=UTF-8") || declaresUTF8("text/html") || declaresUTF8("text/plain; charset=utf-8") {
		t.Error("declaresUTF8")
	}
}

// TestFastTitleMatchesTokenizer compares fastTitle with the tokenizer on
// documents made of the pieces that steer tokenizing, in random order.
func TestFastTitleMatchesTokenizer(t *testing.T) {
	pieces := []string{"<title>", "</title>", "<TITLE ", "</title ", "<title/>", "<a", " b", "=", "'", "\"", ">", "<", "/",
		"</", "<!", "<!--", "-->", "<?", "<!DOCTYPE html>", "&amp;", "&#0", "&lt", "\x00", "\r\n", " ", "x", "<p a=/>",
		"<svg>", "<script>", "é", "\xff", "<br/>", "</p>", "title", "<titlex>"}
	rng := rand.New(rand.NewPCG(1, 2))
	answered := 0
	for range 200_000 {
		var b strings.Builder
		for range rng.IntN(12) + 1 {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		got, ok := fastTitle([]byte(s))
		if !ok {
			continue
		}
		answered++
		if want := tokenizedTitle([]byte(s), "text/html; charset=utf-8"); got != want {
			t.Fatalf("fastTitle(%q) = %q, the tokenizer says %q", s, got, want)
		}
	}
	if answered < 50_000 {
		t.Errorf("fastTitle answered only %d of 200000", answered)
	}
}
