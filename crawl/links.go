package crawl

import (
	"bytes"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Links returns the raw link targets of an HTML document, resolved against
// pageURL and the document's first <base href>: <a href>, <link rel=next
// href> and <area href>. Links inside comments and <script>/<style> are
// never seen because the tokenizer treats those as text.
func Links(pageURL *url.URL, body []byte) []*url.URL {
	z := html.NewTokenizer(bytes.NewReader(body))
	base := pageURL
	baseSeen := false
	var out []*url.URL
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, hasAttr := z.TagName()
		a := atom.Lookup(name)
		if !hasAttr || (a != atom.A && a != atom.Link && a != atom.Area && a != atom.Base) {
			continue
		}
		var href, rel string
		hrefSet := false
		for {
			k, v, more := z.TagAttr()
			switch string(k) {
			case "href":
				href, hrefSet = string(v), true
			case "rel":
				rel = strings.ToLower(string(v))
			}
			if !more {
				break
			}
		}
		if !hrefSet {
			continue
		}
		switch a {
		case atom.Base:
			if !baseSeen {
				baseSeen = true
				if b, err := pageURL.Parse(strings.TrimSpace(href)); err == nil {
					base = b
				}
			}
			continue
		case atom.Link:
			if !hasToken(rel, "next") {
				continue
			}
		}
		if u, err := base.Parse(strings.TrimSpace(href)); err == nil {
			out = append(out, u)
		}
	}
}

func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if f == tok {
			return true
		}
	}
	return false
}
