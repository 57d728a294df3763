package fetch

import (
	"bytes"
	"io"
	"mime"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// Title returns the text of the first <title> element of an HTML document,
// with runs of white space collapsed, or "" if there is none. The body is
// decoded from the charset named by contentType (the Content-Type header),
// a byte-order mark, or a <meta charset> / <meta http-equiv> in the first
// 1024 bytes, falling back to windows-1252 as browsers do. The result is
// always valid UTF-8. A <title> inside <svg> is ignored.
func Title(body []byte, contentType string) string {
	if declaresUTF8(contentType) {
		if t, ok := fastTitle(body); ok {
			return t
		}
	}
	return tokenizedTitle(body, contentType)
}

// tokenizedTitle is Title by x/net/html's tokenizer.
func tokenizedTitle(body []byte, contentType string) string {
	var r io.Reader = bytes.NewReader(body)
	if _, params, err := mime.ParseMediaType(contentType); err != nil || !strings.EqualFold(params["charset"], "utf-8") {
		// The header names no charset, or one needing conversion: let
		// charset sniff the BOM and <meta> and convert to UTF-8.
		if r, err = charset.NewReader(r, contentType); err != nil {
			return ""
		}
	}
	z := html.NewTokenizer(r)
	svg := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Svg:
				svg++
			case atom.Title:
				if svg > 0 {
					continue
				}
				var b strings.Builder
				for {
					tt := z.Next()
					if tt != html.TextToken {
						break
					}
					b.Write(z.Text())
				}
				return strings.ToValidUTF8(strings.Join(strings.Fields(b.String()), " "), "\uFFFD")
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if atom.Lookup(name) == atom.Svg && svg > 0 {
				svg--
			}
		}
	}
}
