package run

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrNoPerl reports a replacement string whose Perl code only perl can
// run ({= perl =}, an --rpl, --plus's {%regexp} and the like) when perl
// is not on PATH.
var ErrNoPerl = errors.New("this replacement string is Perl code, and perl is not on PATH")

// Template is a command line with GNU parallel's replacement strings,
// parsed the way GNU parallel parses it:
//
//	{}    the argument(s)                {.}   without extension
//	{/}   basename                       {//}  dirname
//	{/.}  basename without extension     {#}   job number (1, 2, ...)
//	{%}   job slot (1..jobs)             {n}   argument n (of n sources or columns)
//	{n.} {n/} {n//} {n/.}  argument n, modified as above; {-1} the last
//	{= perl code =}  the argument as $_ after the code ran ({=n code =} for argument n)
//
// and with --plus {..} {...} {+/} {+.} {##} {:-x} {%regexp} and the rest.
// Substituted arguments are shell-quoted with Quote, unless the command
// starts with a replacement string ('{}' ::: 'echo a' runs echo a). A
// command without any replacement string gets the arguments appended.
type Template struct {
	tokens []token
	exprs  []*expr
	// quoteArgs is GNU parallel's quote_replace: off when the command
	// starts with a replacement string.
	quoteArgs bool
	// quoteWords is GNU parallel's -q: each word of the command is quoted
	// whole once expanded, the arguments in it as they are.
	quoteWords bool
	// context is -X: a word holding a replacement string is repeated for
	// each argument.
	context bool
	words   int // command words, for the length estimate of -X and -m
	// noncontext, contextLen, contextGroups measure the command without its
	// replacement strings for lineLength, as GNU parallel does.
	noncontext, contextLen, contextGroups int
	// replaceCount: how many times each distinct expression (by raw
	// text) occurs; the first occurrence's index stands for them all.
	replaceCount map[int]int
	needsPerl    bool
	needsTotal   bool
	// textLen and exprCount size a command line's buffer before it is
	// filled in.
	textLen, exprCount int
}

type tokKind uint8

const (
	tText  tokKind = iota // text without whitespace
	tWS                   // one whitespace character inside a command word
	tSpc                  // the space between two command words
	tExpr                 // a replacement string
	tEmpty                // an empty command word
)

type token struct {
	kind tokKind
	text string
	expr int // tExpr: index in exprs
}

// expr is one use of a replacement string.
type expr struct {
	raw  string // what GNU parallel has between its parentheses: the position, then the code
	pos  int    // 0: each argument in turn; n > 0: argument n; n < 0: the nth from the last
	code string // the Perl code, position removed
	nat  native // crew's evaluation; nil: perl's
}

// ParseTemplate parses a command line given as one string, with GNU
// parallel's default replacement strings.
func ParseTemplate(cmd string) (*Template, error) {
	rs, err := newRplSet(Replacements{})
	if err != nil {
		return nil, err
	}
	return parseTemplate([]string{cmd}, rs, templateOptions{})
}

type templateOptions struct {
	quoteWords bool     // -q
	context    bool     // -X
	noAppend   bool     // --pipe: a command without replacement strings gets nothing appended
	header     []string // --header: the column names, {1} first
}

// parseTemplate parses a command given as words, as GNU parallel does.
func parseTemplate(words []string, rs *rplSet, o templateOptions) (*Template, error) {
	t := &Template{quoteWords: o.quoteWords, context: o.context, quoteArgs: true}
	words = mergeParens(words, rs.left, rs.right)
	var parsed [][]segment
	for _, w := range words {
		if len(o.header) > 0 {
			w = headerNames(w, o.header, rs)
		}
		segs := splitParens(w, rs.left, rs.right)
		for _, c := range rs.compiled {
			segs = applyRpl(segs, c)
		}
		parsed = append(parsed, segs)
	}
	any := false
	for _, segs := range parsed {
		for _, s := range segs {
			any = any || s.expr != nil
		}
	}
	if !any {
		id := &expr{raw: "", nat: natIdentity(nil)}
		switch {
		case len(parsed) == 0:
			parsed = [][]segment{{{expr: id}}}
		case o.noAppend:
		default:
			parsed = append(parsed, []segment{{expr: id}})
		}
	}
	// GNU parallel quotes no argument when the command starts with a
	// replacement string (before any space, tab, newline or =).
	if len(parsed) > 0 {
		prefix := ""
		for _, s := range parsed[0] {
			if s.expr != nil {
				if !strings.ContainsAny(prefix, " \t\n=") {
					t.quoteArgs = false
				}
				break
			}
			prefix += s.text
		}
	}
	t.words = len(parsed)
	t.replaceCount = map[int]int{}
	byRaw := map[string]int{}
	for i, segs := range parsed {
		if i > 0 {
			t.tokens = append(t.tokens, token{kind: tSpc})
		}
		if len(segs) == 0 || (len(segs) == 1 && segs[0].expr == nil && segs[0].text == "") {
			t.tokens = append(t.tokens, token{kind: tEmpty})
			continue
		}
		wordLen, exprs := 0, 0
		for _, s := range segs {
			if s.expr == nil {
				wordLen += len(s.text)
				t.tokens = appendText(t.tokens, s.text)
				continue
			}
			exprs++
			if err := t.addExpr(s.expr); err != nil {
				return nil, err
			}
			idx := len(t.exprs) - 1
			if first, ok := byRaw[s.expr.raw]; ok {
				t.replaceCount[first]++
			} else {
				byRaw[s.expr.raw] = idx
				t.replaceCount[idx] = 1
			}
			t.tokens = append(t.tokens, token{kind: tExpr, expr: idx})
		}
		t.measure(segs, exprs, wordLen)
		t.textLen += wordLen + 1
		t.exprCount += exprs
	}
	return t, nil
}

// measure adds a word to the sizes lineLength works from: GNU parallel
// counts the text of the words around a replacement string (split at
// whitespace) as context, the rest as non-context.
func (t *Template) measure(segs []segment, exprs, wordLen int) {
	if exprs == 0 {
		t.noncontext += wordLen
		return
	}
	var flat strings.Builder
	for _, s := range segs {
		if s.expr != nil {
			flat.WriteByte(0)
		} else {
			flat.WriteString(s.text)
		}
	}
	w := flat.String()
	for _, f := range strings.FieldsFunc(w, isPerlSpace) {
		if strings.IndexByte(f, 0) >= 0 {
			t.contextLen += len(f) - strings.Count(f, "\x00")
			t.contextGroups++
		} else {
			t.noncontext += len(f)
		}
	}
	// whitespace inside the word stays non-context
	for i := 0; i < len(w); i++ {
		if isPerlSpace(rune(w[i])) {
			t.noncontext++
		}
	}
}

func (t *Template) addExpr(e *expr) error {
	e.pos, e.code = splitPosition(e.raw)
	t.exprs = append(t.exprs, e)
	if e.nat == nil {
		t.needsPerl = true
	}
	if strings.Contains(e.code, "total_jobs") {
		t.needsTotal = true
	}
	return nil
}

// positionRe is how GNU parallel reads the position of a replacement
// string: digits at the start, then (in the evaluation) spaces.
var positionRe = regexp.MustCompile(`^(-?\d+)?`)

func splitPosition(raw string) (int, string) {
	m := positionRe.FindString(raw)
	rest := raw[len(m):]
	// Arg::replace strips a position again, then spaces.
	rest = strings.TrimLeft(rest[len(positionRe.FindString(rest)):], " ")
	n, err := strconv.Atoi(m)
	if err != nil {
		return 0, rest
	}
	return n, rest
}

func isPerlSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return true
	}
	return false
}

// appendText adds text to the tokens, each whitespace character a token
// of its own, as GNU parallel splits words.
func appendText(toks []token, s string) []token {
	start := 0
	for i := 0; i < len(s); i++ {
		if isPerlSpace(rune(s[i])) {
			if i > start {
				toks = append(toks, token{kind: tText, text: s[start:i]})
			}
			toks = append(toks, token{kind: tWS, text: s[i : i+1]})
			start = i + 1
		}
	}
	if start < len(s) {
		toks = append(toks, token{kind: tText, text: s[start:]})
	}
	return toks
}

// segment is a piece of a command word: text, or a replacement string.
type segment struct {
	text string
	expr *expr
}

// mergeParens joins a word that opens {= without closing it with the
// words after it, with spaces, until it is closed (GNU parallel's
// merge_rpl_parts: the shell split "{= $_ =}" unquoted into three).
func mergeParens(words []string, l, r string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		s := words[i]
		for unclosed(s, l, r) && i+1 < len(words) {
			i++
			s += " " + words[i]
		}
		out = append(out, s)
	}
	return out
}

// unclosed says whether s holds an l without an r after it, once the
// matched pairs are removed (innermost, rightmost first).
func unclosed(s, l, r string) bool {
	for {
		i := strings.LastIndex(s, l)
		for i >= 0 {
			if j := strings.Index(s[i+len(l):], r); j >= 0 {
				s = s[:i] + s[i+len(l)+j+len(r):]
				break
			}
			i = strings.LastIndex(s[:i], l)
		}
		if i < 0 {
			return strings.Contains(s, l)
		}
	}
}

// splitParens cuts out the {= code =} of a word as GNU parallel's
// L((?:(?!L|R).)*?)R does: from each l, the code runs to the first r, and
// the match fails if an l starts first; leftmost first.
func splitParens(w, l, r string) []segment {
	var segs []segment
	lit := 0
	for i := 0; i < len(w); {
		j := strings.Index(w[i:], l)
		if j < 0 {
			break
		}
		start := i + j
		end := -1
		for q := start + len(l); q < len(w); q++ {
			if strings.HasPrefix(w[q:], r) {
				end = q
				break
			}
			if strings.HasPrefix(w[q:], l) {
				break
			}
		}
		if end < 0 {
			i = start + 1
			continue
		}
		if start > lit {
			segs = append(segs, segment{text: w[lit:start]})
		}
		code := w[start+len(l) : end]
		e := &expr{raw: code}
		if _, c := splitPosition(code); strings.TrimSpace(c) == "" {
			e.nat = natIdentity(nil)
		}
		segs = append(segs, segment{expr: e})
		i = end + len(r)
		lit = i
	}
	if lit < len(w) {
		segs = append(segs, segment{text: w[lit:]})
	}
	return segs
}

// applyRpl replaces the uses of one replacement string in the text of
// the segments: first the plain form, then the positional one ({2.}).
func applyRpl(segs []segment, c *compiledRpl) []segment {
	segs = replaceIn(segs, c.re, func(m []string) *expr {
		return &expr{raw: codeFor(c.def, "", m[1:]), nat: nativeOf(c.def, m[1:])}
	})
	if c.posRe != nil {
		segs = replaceIn(segs, c.posRe, func(m []string) *expr {
			return &expr{raw: codeFor(c.def, m[1], m[2:]), nat: nativeOf(c.def, m[2:])}
		})
	}
	return segs
}

func nativeOf(d rplDef, groups []string) native {
	if d.native == nil {
		return nil
	}
	return d.native(groups)
}

func replaceIn(segs []segment, re *regexp.Regexp, mk func([]string) *expr) []segment {
	var out []segment
	for _, s := range segs {
		if s.expr != nil {
			out = append(out, s)
			continue
		}
		text := s.text
		for {
			loc := re.FindStringSubmatchIndex(text)
			if loc == nil {
				break
			}
			m := make([]string, len(loc)/2)
			for k := range m {
				if loc[2*k] >= 0 {
					m[k] = text[loc[2*k]:loc[2*k+1]]
				}
			}
			if loc[0] > 0 {
				out = append(out, segment{text: text[:loc[0]]})
			}
			out = append(out, segment{expr: mk(m)})
			text = text[loc[1]:]
			if loc[1] == loc[0] { // an empty match: step over a byte
				if text == "" {
					break
				}
				out = append(out, segment{text: text[:1]})
				text = text[1:]
			}
		}
		if text != "" {
			out = append(out, segment{text: text})
		}
	}
	return out
}

// headerNames turns {name} {name.} {name/} {name//} {name/.} and
// {=name code =} into their column numbers (--header).
func headerNames(w string, cols []string, rs *rplSet) string {
	for i, name := range cols {
		id := i + 1
		q := regexp.QuoteMeta(name)
		re := regexp.MustCompile(`\{` + q + `(|/|//|\.|/\.)\}`)
		w = re.ReplaceAllString(w, "{"+strconv.Itoa(id)+"${1}}")
		pe := regexp.MustCompile(`(?s)` + regexp.QuoteMeta(rs.left) + q + `(.*?)` + regexp.QuoteMeta(rs.right))
		w = pe.ReplaceAllString(w, rs.left+strconv.Itoa(id)+"${1}"+rs.right)
	}
	return w
}

// usesSlot says whether the job slot shows in the command: {%}, {0%},
// {slot}, slot() or $PARALLEL_JOBSLOT.
func (t *Template) usesSlot() bool {
	for _, tk := range t.tokens {
		if tk.kind == tText && strings.Contains(strings.ToLower(tk.text), "slot") {
			return true
		}
	}
	for _, e := range t.exprs {
		if strings.Contains(strings.ToLower(e.code), "slot") {
			return true
		}
	}
	return false
}

// String shows the parsed template, for error messages and tests.
func (t *Template) String() string {
	var b strings.Builder
	for _, tk := range t.tokens {
		switch tk.kind {
		case tText, tWS:
			b.WriteString(tk.text)
		case tSpc:
			b.WriteByte(' ')
		case tExpr:
			fmt.Fprintf(&b, "{=%s=}", t.exprs[tk.expr].raw)
		}
	}
	return b.String()
}
