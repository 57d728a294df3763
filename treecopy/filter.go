package treecopy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Filter is an ordered list of include and exclude rules with rsync's
// pattern rules; the first rule that matches a path decides, and a path
// no rule matches is copied. An excluded directory is not entered, so
// nothing below it is copied, whatever later rules say.
//
// A pattern is matched against the path below the transfer root:
//   - a leading "/" anchors it at the root; otherwise it matches the end of
//     the path, at a "/" boundary;
//   - a trailing "/" makes it match directories only;
//   - "*" matches anything but "/", "**" anything, "?" one character but
//     "/", "[...]" a character class; "dir/***" matches dir and all below;
//   - without "/" (other than a trailing one) or "**", it is matched
//     against the last element of the path only.
type Filter struct {
	rules []rule
}

type rule struct {
	include  bool
	pattern  string // as written, less a trailing "/"
	text     string // as given, for messages
	anchored bool
	dirOnly  bool
	wild     bool // has *, ? or [
	wild2    bool // has **
	wild2Pre bool // starts with **
	wild3Suf bool // ends with ***
	slashes  int
}

// Add adds one rule as rsync's --exclude (include false) or --include
// takes it: a pattern, optionally preceded by "- " (exclude) or "+ "
// (include) to say which; "!" alone clears the rules so far.
func (f *Filter) Add(text string, include bool) error {
	if text == "" {
		return nil // rsync ignores an empty rule
	}
	if strings.IndexByte(text, 0) >= 0 {
		return fmt.Errorf("%w %q: contains a NUL byte", ErrFilter, text)
	}
	s := text
	switch {
	case strings.HasPrefix(s, "- "):
		include, s = false, s[2:]
	case strings.HasPrefix(s, "+ "):
		include, s = true, s[2:]
	case s == "!":
		f.rules = nil
		return nil
	}
	if s == "" {
		return fmt.Errorf("%w %q: no pattern after the prefix", ErrFilter, text)
	}
	r := rule{include: include, pattern: s, text: text}
	if len(s) > 1 && s[len(s)-1] == '/' {
		r.pattern, r.dirOnly = s[:len(s)-1], true
	}
	p := r.pattern
	r.slashes = strings.Count(p, "/")
	r.anchored = p[0] == '/'
	if strings.ContainsAny(p, "*[?") {
		r.wild = true
		if i := strings.Index(p, "**"); i >= 0 {
			r.wild2, r.wild2Pre = true, i == 0
			r.wild3Suf = strings.HasSuffix(p, "***")
		}
	}
	f.rules = append(f.rules, r)
	return nil
}

// AddFrom adds the rules in r, one a line, as rsync's --exclude-from
// (include false) or --include-from reads them: blank lines and lines
// starting with ";" or "#" are skipped. name names r in errors, with the
// line number.
func (f *Filter) AddFrom(r io.Reader, include bool, name string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if err := f.Add(line, include); err != nil {
			return fmt.Errorf("%s line %d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Len is the number of rules.
func (f *Filter) Len() int { return len(f.rules) }

// Excluded reports whether the path (slash-separated, below the transfer
// root, without a leading or trailing "/") is left out of the copy.
func (f *Filter) Excluded(path string, isDir bool) bool {
	if f == nil {
		return false
	}
	for i := range f.rules {
		if f.rules[i].matches(path, isDir) {
			return !f.rules[i].include
		}
	}
	return false
}

// matches is rsync's rule_matches (exclude.c) for a path relative to the
// transfer root.
func (r *rule) matches(path string, isDir bool) bool {
	if path == "" || r.dirOnly && !isDir {
		return false
	}
	name, prefix, suffix := path, "", ""
	if r.slashes == 0 && !r.wild2 {
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
	} else if r.wild2Pre {
		prefix = "/" // lets "**/" match at the start
	}
	if isDir && r.wild3Suf {
		suffix = "/" // lets "dir/***" match dir itself
	}
	pattern := r.pattern
	if r.anchored {
		pattern = pattern[1:]
	}
	where := 0
	switch {
	case !r.anchored && r.slashes > 0 && !r.wild2:
		where = r.slashes + 1 // the last slashes+1 elements
	case !r.anchored && !r.wild2Pre && r.wild2:
		where = -1 // at the start or after any "/"
	}
	text := prefix + name + suffix
	switch {
	case r.wild:
		return wildmatchArray(pattern, text, where)
	case prefix != "" || suffix != "":
		return litmatchArray(pattern, text, where)
	case r.anchored:
		return name == pattern
	default:
		return name == pattern || strings.HasSuffix(name, "/"+pattern)
	}
}

// The results of dowild.
const (
	wmFalse         = 0
	wmTrue          = 1
	wmAbortAll      = -1
	wmAbortStarstar = -2
)

func wildmatchArray(pattern, text string, where int) bool {
	if where > 0 {
		var ok bool
		if text, ok = trailingElements(text, where); !ok {
			return false
		}
	}
	matched := dowild(pattern, text)
	if matched != wmTrue && where < 0 && matched != wmAbortAll {
		for i := 0; ; i++ {
			if i >= len(text) {
				return false
			}
			if text[i] == '/' {
				if matched = dowild(pattern, text[i+1:]); matched != wmFalse && matched != wmAbortStarstar {
					break
				}
			}
		}
	}
	return matched == wmTrue
}

func litmatchArray(s, text string, where int) bool {
	if where > 0 {
		var ok bool
		if text, ok = trailingElements(text, where); !ok {
			return false
		}
	}
	return s == text
}

// trailingElements is the last n slash-separated elements of text.
func trailingElements(text string, n int) (string, bool) {
	for i := len(text) - 1; i >= 0; i-- {
		if text[i] == '/' {
			if n--; n == 0 {
				return text[i+1:], true
			}
		}
	}
	if n == 1 {
		return text, true
	}
	return "", false
}

// dowild is rsync's (and git's) wildmatch: p against text, "/" special.
func dowild(p, text string) int {
	at := func(s string, i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	ti := 0
	for pi := 0; pi < len(p); pi, ti = pi+1, ti+1 {
		pch := p[pi]
		tch := at(text, ti)
		if ti >= len(text) && pch != '*' {
			return wmAbortAll
		}
		switch pch {
		case '\\':
			// A literal match with the next character.
			pi++
			if at(p, pi) != tch || pi >= len(p) {
				return wmFalse
			}
		case '?':
			if tch == '/' {
				return wmFalse
			}
		case '*':
			pi++
			special := false
			if at(p, pi) == '*' {
				for at(p, pi) == '*' {
					pi++
				}
				special = true
			}
			if pi >= len(p) {
				// A trailing "**" matches everything, a trailing "*" only
				// what has no more "/".
				if !special && strings.IndexByte(text[ti:], '/') >= 0 {
					return wmFalse
				}
				return wmTrue
			}
			for ; ti < len(text); ti++ {
				if m := dowild(p[pi:], text[ti:]); m != wmFalse {
					if !special || m != wmAbortStarstar {
						return m
					}
				} else if !special && text[ti] == '/' {
					return wmAbortStarstar
				}
			}
			return wmAbortAll
		case '[':
			pi++
			pch = at(p, pi)
			if pch == '^' {
				pch = '!'
			}
			negated := pch == '!'
			if negated {
				pi++
				pch = at(p, pi)
			}
			var prev byte
			matched := false
			for {
				if pi >= len(p) {
					return wmAbortAll
				}
				switch {
				case pch == '\\':
					pi++
					if pi >= len(p) {
						return wmAbortAll
					}
					pch = p[pi]
					if tch == pch {
						matched = true
					}
				case pch == '-' && prev != 0 && pi+1 < len(p) && p[pi+1] != ']':
					pi++
					pch = p[pi]
					if pch == '\\' {
						pi++
						if pi >= len(p) {
							return wmAbortAll
						}
						pch = p[pi]
					}
					if tch <= pch && tch >= prev {
						matched = true
					}
					pch = 0 // so that prev becomes 0
				case pch == '[' && at(p, pi+1) == ':':
					s := pi + 2
					for pi = s; pi < len(p) && p[pi] != ']'; pi++ {
					}
					if pi >= len(p) {
						return wmAbortAll
					}
					n := pi - s - 1
					if n < 0 || p[pi-1] != ':' {
						// No ":]": a plain "[" in the set.
						pi = s - 2
						pch = '['
						if tch == pch {
							matched = true
						}
						break
					}
					in, ok := charClass(p[s:s+n], tch)
					if !ok {
						return wmAbortAll // malformed [:class:]
					}
					matched = matched || in
					pch = 0
				default:
					if tch == pch {
						matched = true
					}
				}
				prev = pch
				pi++
				if pch = at(p, pi); pch == ']' {
					break
				}
			}
			if matched == negated || tch == '/' {
				return wmFalse
			}
		default:
			if tch != pch {
				return wmFalse
			}
		}
	}
	if ti < len(text) {
		return wmFalse
	}
	return wmTrue
}

// charClass reports whether c is in the POSIX class name (ASCII).
func charClass(name string, c byte) (in, ok bool) {
	lower, upper, digit := c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9'
	punct := c > ' ' && c < 0x7f && !lower && !upper && !digit
	switch name {
	case "alnum":
		return lower || upper || digit, true
	case "alpha":
		return lower || upper, true
	case "blank":
		return c == ' ' || c == '\t', true
	case "cntrl":
		return c < ' ' || c == 0x7f, true
	case "digit":
		return digit, true
	case "graph":
		return c > ' ' && c < 0x7f, true
	case "lower":
		return lower, true
	case "print":
		return c >= ' ' && c < 0x7f, true
	case "punct":
		return punct, true
	case "space":
		return c == ' ' || c >= '\t' && c <= '\r', true
	case "upper":
		return upper, true
	case "xdigit":
		return digit || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F', true
	}
	return false, false
}

// ErrFilter is returned, wrapped, for a filter rule that cannot be parsed.
var ErrFilter = errors.New("bad filter rule")
