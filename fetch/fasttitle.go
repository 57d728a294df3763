package fetch

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
)

// declaresUTF8 reports whether a Content-Type is one of the usual
// spellings of HTML in UTF-8, for which Title needs no charset detection.
func declaresUTF8(contentType string) bool {
	switch strings.ToLower(contentType) {
	case "text/html; charset=utf-8", "text/html;charset=utf-8", `text/html; charset="utf-8"`:
		return true
	}
	return false
}

// fastTitle finds a UTF-8 document's title by the same rules as
// x/net/html's tokenizer as Title uses it, without its per-document
// buffers: fetching many small pages spent a tenth of its time there. It
// follows the tokenizer's data state, tags with their attributes,
// doctypes and bogus comments, and the title's RCDATA; on anything else
// that changes how later bytes are read (comments, raw-text elements such
// as <script>, <svg>, a self-closing <title/>) it gives up with ok false,
// and Title asks the tokenizer. FuzzFastTitle holds the two to the same
// answers.
func fastTitle(b []byte) (title string, ok bool) {
	i := 0
	for {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 || i+j+1 >= len(b) {
			return "", true // only text left: no title
		}
		i += j + 1
		switch c := b[i]; {
		case isLetter(c):
			name, end, selfClosing, complete := scanTag(b, i)
			if !complete {
				return "", true // the tokenizer stops at a tag cut by the end
			}
			switch string(asciiLower(name)) {
			case "title":
				if selfClosing {
					return "", false
				}
				return titleText(rcdataTitle(b[end:])), true
			case "svg", "iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea", "xmp":
				return "", false
			}
			i = end
		case c == '/':
			if i+1 >= len(b) {
				return "", true
			}
			switch c2 := b[i+1]; {
			case c2 == '>':
				i += 2
			case isLetter(c2):
				_, end, _, complete := scanTag(b, i+1)
				if !complete {
					return "", true
				}
				i = end
			default: // a bogus comment, to the next '>'
				k := bytes.IndexByte(b[i+1:], '>')
				if k < 0 {
					return "", true
				}
				i += 1 + k + 1
			}
		case c == '!':
			if i+2 < len(b) && b[i+1] == '-' && b[i+2] == '-' {
				return "", false // a comment
			}
			fallthrough
		case c == '?': // a doctype or a bogus comment, to the next '>'
			k := bytes.IndexByte(b[i+1:], '>')
			if k < 0 {
				return "", true
			}
			i += 1 + k + 1
		}
		// Anything else after '<' is text: go on from that byte.
	}
}

// asciiLower lower-cases ASCII letters only, as the tokenizer does (Unicode
// folding would take "ſcript" for "script").
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isTagSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }

// scanTag reads a tag whose name starts at b[p], as the tokenizer's
// readTag does, and returns its name, the index just past its '>', whether
// it ends in "/>", and false if the input ends first.
func scanTag(b []byte, p int) (name []byte, end int, selfClosing, complete bool) {
	k := p + 1
	for ; ; k++ {
		if k >= len(b) {
			return nil, 0, false, false
		}
		if c := b[k]; isTagSpace(c) || c == '/' || c == '>' {
			break
		}
	}
	name = b[p:k]
	if isTagSpace(b[k]) {
		k++
	}
	skipSpace := func() {
		for k < len(b) && isTagSpace(b[k]) {
			k++
		}
	}
	skipSpace()
	for {
		if k >= len(b) {
			return nil, 0, false, false
		}
		if b[k] == '>' {
			k++
			break
		}
		// Attribute key: up to white space, '/', '>' or a '=' that is not
		// its first byte.
		start := k
		for k < len(b) {
			c := b[k]
			if c == '=' && k == start {
				k++
				continue
			}
			if isTagSpace(c) || c == '/' || c == '>' || c == '=' {
				break
			}
			k++
		}
		// Attribute value.
		skipSpace()
		if k >= len(b) {
			return nil, 0, false, false
		}
		switch b[k] {
		case '/':
			k++
		case '=':
			k++
			skipSpace()
			if k >= len(b) {
				return nil, 0, false, false
			}
			switch q := b[k]; q {
			case '>':
			case '\'', '"':
				e := bytes.IndexByte(b[k+1:], q)
				if e < 0 {
					return nil, 0, false, false
				}
				k += 1 + e + 1
			default:
				for k < len(b) && !isTagSpace(b[k]) && b[k] != '>' {
					k++
				}
				if k < len(b) && isTagSpace(b[k]) {
					k++
				}
			}
		}
		skipSpace()
	}
	// "<br/>" closes itself, and "<p a=/>" does not (the '/' is the
	// value's), but the tokenizer's rule looks at attributes it kept; any
	// '/' before the '>' counts here, so a doubt sends Title to it.
	selfClosing = b[k-2] == '/'
	return name, k, selfClosing, true
}

// rcdataTitle returns a title element's text: up to "</title" followed by
// white space, '/' or '>', letter case ignored, or to the end.
func rcdataTitle(b []byte) []byte {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte("</"))
		if j < 0 {
			return b
		}
		k := i + j + 2
		if k+len("title") < len(b) && string(asciiLower(b[k:k+len("title")])) == "title" {
			switch b[k+len("title")] {
			case ' ', '\n', '\r', '\t', '\f', '/', '>':
				return b[:i+j]
			}
		}
		i = k - 1 // reconsume from the '/', as the tokenizer does
	}
}

// titleText decodes a title's RCDATA as the tokenizer's Text does (NUL
// bytes become U+FFFD, character references are decoded) and tidies it as
// Title does.
func titleText(raw []byte) string {
	s := string(raw)
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if strings.IndexByte(s, '&') >= 0 {
		s = html.UnescapeString(s)
	}
	return strings.ToValidUTF8(strings.Join(strings.Fields(s), " "), "\uFFFD")
}
