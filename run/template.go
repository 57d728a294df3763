package run

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrPerlExpression reports a {= perl expression =} replacement string,
// which crew does not support.
var ErrPerlExpression = errors.New("perl expressions {= ... =} are not supported")

// Template is a command line with GNU parallel's replacement strings:
//
//	{}    the argument(s)                {.}   without extension
//	{/}   basename                       {//}  dirname
//	{/.}  basename without extension     {#}   job number (1, 2, ...)
//	{%}   job slot (1..jobs)             {n}   argument n (of n sources or columns)
//	{n.} {n/} {n//} {n/.}  argument n, modified as above
//
// Substituted arguments are shell-quoted with Quote. A command without
// any argument replacement string gets the arguments appended.
type Template struct {
	parts    []part
	usesArgs bool
	// quoteWords is GNU parallel's -q: each word of the command is quoted
	// whole once expanded, the arguments in it as they are.
	quoteWords bool
}

type part struct {
	literal string
	kind    byte   // 0: literal; 'a': all arguments; 'p': one argument; '#': job number; '%': slot; ' ': end of a word (quoteWords)
	pos     int    // for 'p', 1-based
	mod     string // "", ".", "/", "//", "/."
}

// ParseTemplate parses a command line.
func ParseTemplate(cmd string) (*Template, error) {
	t := &Template{}
	if err := t.parse(cmd); err != nil {
		return nil, err
	}
	if !t.usesArgs {
		t.parts = append(t.parts, part{literal: " "}, part{kind: 'a'})
	}
	return t, nil
}

// parseQuotedWords parses a command given as words for GNU parallel's -q
// (quote the command): each word is a template of its own, and once
// expanded it is shell-quoted whole, so that the command's program gets
// it as one argument, arguments and all. Without -q, a word's text is
// shell syntax and only the arguments are quoted: echo 'x{}y' with the
// argument "a b" becomes echo x'a b'y. With -q, echo x{}y becomes
// echo 'xa by'. Where {} stands for several arguments (-n 2), each
// argument makes a word of its own, as GNU parallel does: x{}y with a and b
// gives xa by, two words.
func parseQuotedWords(words []string) (*Template, error) {
	t := &Template{quoteWords: true}
	for i, w := range words {
		if i > 0 {
			t.parts = append(t.parts, part{kind: ' '})
		}
		if err := t.parse(w); err != nil {
			return nil, err
		}
	}
	if !t.usesArgs {
		t.parts = append(t.parts, part{kind: ' '}, part{kind: 'a'})
	}
	return t, nil
}

// parse appends the parts of cmd to t's.
func (t *Template) parse(cmd string) error {
	lit := strings.Builder{}
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(cmd); {
		if cmd[i] != '{' {
			lit.WriteByte(cmd[i])
			i++
			continue
		}
		if strings.HasPrefix(cmd[i:], "{=") {
			return fmt.Errorf("%w: %q", ErrPerlExpression, cmd)
		}
		end := strings.IndexByte(cmd[i:], '}')
		if end < 0 {
			lit.WriteString(cmd[i:])
			break
		}
		p, ok := parseToken(cmd[i+1 : i+end])
		if !ok {
			lit.WriteByte('{') // not a replacement string: keep it as written
			i++
			continue
		}
		flush()
		t.parts = append(t.parts, p)
		t.usesArgs = true // any replacement string, {#} included, stops the appending
		i += end + 1
	}
	flush()
	return nil
}

func parseToken(tok string) (part, bool) {
	switch tok {
	case "#":
		return part{kind: '#'}, true
	case "%":
		return part{kind: '%'}, true
	}
	digits := 0
	for digits < len(tok) && tok[digits] >= '0' && tok[digits] <= '9' {
		digits++
	}
	mod := tok[digits:]
	switch mod {
	case "", ".", "/", "//", "/.":
	default:
		return part{}, false
	}
	if digits == 0 {
		return part{kind: 'a', mod: mod}, true
	}
	n, err := strconv.Atoi(tok[:digits])
	if err != nil || n < 1 {
		return part{}, false
	}
	return part{kind: 'p', pos: n, mod: mod}, true
}

// Expand fills the template for a job with the given arguments, job
// number and slot.
func (t *Template) Expand(args []string, seq, slot int) string {
	if t.quoteWords {
		return t.expandQuoted(args, seq, slot)
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch p.kind {
		case 0:
			b.WriteString(p.literal)
		case '#':
			b.WriteString(strconv.Itoa(seq))
		case '%':
			b.WriteString(strconv.Itoa(slot))
		case 'a':
			for i, a := range args {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(Quote(modify(a, p.mod)))
			}
		case 'p':
			if p.pos <= len(args) { // a missing argument is nothing, not ''
				b.WriteString(Quote(modify(args[p.pos-1], p.mod)))
			}
		}
	}
	return b.String()
}

// expandQuoted is Expand for -q: the words are filled, then quoted.
func (t *Template) expandQuoted(args []string, seq, slot int) string {
	var b, word strings.Builder
	endWord := func() {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Quote(word.String())) // never empty: "" is ''
		word.Reset()
	}
	for _, p := range t.parts {
		switch p.kind {
		case ' ':
			endWord()
		case 0:
			word.WriteString(p.literal)
		case '#':
			word.WriteString(strconv.Itoa(seq))
		case '%':
			word.WriteString(strconv.Itoa(slot))
		case 'a':
			for i, a := range args {
				if i > 0 {
					endWord()
				}
				word.WriteString(modify(a, p.mod))
			}
		case 'p':
			if p.pos <= len(args) {
				word.WriteString(modify(args[p.pos-1], p.mod))
			}
		}
	}
	endWord()
	return b.String()
}

func modify(s, mod string) string {
	switch mod {
	case ".":
		return noExt(s)
	case "/":
		return basename(s)
	case "//":
		return dirname(s)
	case "/.":
		return noExt(basename(s))
	}
	return s
}

// noExt removes a final extension: the last dot and what follows it, if
// no slash follows the dot.
func noExt(s string) string {
	i := strings.LastIndexAny(s, "./")
	if i >= 0 && s[i] == '.' {
		return s[:i]
	}
	return s
}

func basename(s string) string {
	return s[strings.LastIndexByte(s, '/')+1:]
}

// dirname is POSIX dirname, as Perl's File::Basename gives it to parallel.
func dirname(s string) string {
	if s == "" {
		return "."
	}
	t := strings.TrimRight(s, "/")
	if t == "" {
		return "/"
	}
	i := strings.LastIndexByte(t, '/')
	if i < 0 {
		return "."
	}
	d := strings.TrimRight(t[:i], "/")
	if d == "" {
		return "/"
	}
	return d
}
