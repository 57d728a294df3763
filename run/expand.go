package run

import (
	"strings"
)

// noArg is the value of an argument a job reads but does not use (-N0,
// -n0): GNU parallel's "\0noarg". A replacement string that gives it,
// quoted or not, adds nothing to the command line.
const noArg = "\x00noarg"

func isNoArg(s string) bool { return s == noArg || s == "'"+noArg+"'" }

// emitter assembles an expanded command line from GNU parallel's tokens:
// text, and the spaces between words (which -q never quotes). With -q,
// each group between two such spaces is quoted whole.
type emitter struct {
	b        strings.Builder
	quote    bool
	group    strings.Builder
	inGroup  bool // the group has an element (perhaps "")
	anyGroup bool // -q: a group was written
}

func (m *emitter) text(s string) {
	if m.quote {
		m.group.WriteString(s)
		m.inGroup = true
		return
	}
	m.b.WriteString(s)
}

func (m *emitter) space() {
	if !m.quote {
		m.b.WriteByte(' ')
		return
	}
	m.endGroup()
}

func (m *emitter) endGroup() {
	if m.inGroup {
		if m.anyGroup {
			m.b.WriteByte(' ')
		}
		m.b.WriteString(Quote(m.group.String()))
		m.anyGroup = true
	}
	m.group.Reset()
	m.inGroup = false
}

func (m *emitter) String() string {
	if m.quote {
		m.endGroup()
	}
	return m.b.String()
}

// expansion is what a template needs to fill in one job: its arguments,
// what its replacement strings may see, and how to evaluate them.
type expansion struct {
	t        *Template
	args     []string // the job's arguments, flattened; never empty
	env      *evalEnv
	ev       *evaluator
	quoteArg bool
	cache    map[evalKey]evalResult
}

type evalKey struct {
	arg  int
	code string
}

type evalResult struct {
	value    string
	unquoted bool
}

// value is expression e on argument i: evaluated, then shell-quoted
// unless the expression or the template says not to.
func (x *expansion) value(e *expr, i int) (string, error) {
	r, err := x.eval(e, i)
	if err != nil {
		return "", err
	}
	if x.quoteArg && !r.unquoted {
		return Quote(r.value), nil
	}
	return r.value, nil
}

func (x *expansion) eval(e *expr, i int) (evalResult, error) {
	arg := x.ev.trimmed(x.args[i])
	if e.nat != nil && !(strings.IndexByte(arg, '\n') >= 0 && x.ev.perlAvailable()) {
		v, uq := e.nat(arg, x.env)
		return evalResult{v, uq}, nil
	}
	k := evalKey{i, e.code}
	if r, ok := x.cache[k]; ok {
		return r, nil
	}
	r, err := x.ev.perlEval(e, arg, x.env)
	if err != nil {
		return r, err
	}
	if x.cache == nil {
		x.cache = map[evalKey]evalResult{}
	}
	x.cache[k] = r
	return r, nil
}

// argIndex is the argument a positional replacement string takes, or -1.
func (x *expansion) argIndex(pos int) int {
	i := pos - 1
	if pos < 0 {
		i = len(x.args) + pos
	}
	if i < 0 || i >= len(x.args) {
		return -1
	}
	return i
}

// expand fills the template, as GNU parallel's replace_placeholders does.
func (x *expansion) expand() (string, error) {
	m := &emitter{quote: x.t.quoteWords}
	if x.t.exprCount > 0 {
		n := 0
		for _, a := range x.args {
			n += len(a) + 1
		}
		m.b.Grow(x.t.textLen + x.t.exprCount*n)
	} else {
		m.b.Grow(x.t.textLen)
	}
	var err error
	if x.t.context {
		err = x.expandContext(m)
	} else {
		err = x.expandPlain(m)
	}
	if err != nil {
		return "", err
	}
	return m.String(), nil
}

// expandPlain: each replacement string becomes its value for every
// argument, separated by spaces; a positional one, its argument's.
func (x *expansion) expandPlain(m *emitter) error {
	for _, tk := range x.t.tokens {
		switch tk.kind {
		case tText, tWS:
			m.text(tk.text)
		case tSpc:
			m.space()
		case tEmpty:
			m.text("")
		case tExpr:
			if err := x.expandExpr(m, x.t.exprs[tk.expr], -1); err != nil {
				return err
			}
		}
	}
	return nil
}

// expandExpr writes e's values: for argument only (≥ 0), or for each.
func (x *expansion) expandExpr(m *emitter, e *expr, only int) error {
	if e.pos != 0 {
		v := ""
		if i := x.argIndex(e.pos); i >= 0 {
			var err error
			if v, err = x.value(e, i); err != nil {
				return err
			}
		}
		if !isNoArg(v) {
			m.text(v)
		}
		return nil
	}
	for i := range x.args {
		if only >= 0 && i != only {
			continue
		}
		if i > 0 && only < 0 {
			m.space()
		}
		v, err := x.value(e, i)
		if err != nil {
			return err
		}
		if !isNoArg(v) {
			m.text(v)
		}
	}
	return nil
}

// expandContext is -X: a context group (the text between spaces holding
// a replacement string) is written once per argument, spaces between.
// GNU parallel's quirks are kept: a tab starts the next group, and a
// group of positional replacement strings only is written once.
func (x *expansion) expandContext(m *emitter) error {
	var group []token
	flush := func() error {
		hasExpr := false
		for _, tk := range group {
			hasExpr = hasExpr || tk.kind == tExpr
		}
		if !hasExpr {
			for _, tk := range group {
				x.writeLiteral(m, tk)
			}
			return nil
		}
		for i := range x.args {
			if i > 0 {
				m.space()
			}
			normal := false
			for _, tk := range group {
				if tk.kind != tExpr {
					x.writeLiteral(m, tk)
					continue
				}
				e := x.t.exprs[tk.expr]
				if e.pos == 0 {
					normal = true
				}
				if err := x.expandExpr(m, e, i); err != nil {
					return err
				}
			}
			if !normal {
				break
			}
		}
		return nil
	}
	for _, tk := range x.t.tokens {
		if tk.kind == tSpc || (tk.kind == tWS && (tk.text == " " || tk.text == "\t")) {
			if err := flush(); err != nil {
				return err
			}
			group = group[:0]
		}
		switch {
		case tk.kind == tSpc:
			m.space()
		case tk.kind == tWS && tk.text == " ":
			m.text(" ")
		default:
			group = append(group, tk)
		}
	}
	return flush()
}

func (x *expansion) writeLiteral(m *emitter, tk token) {
	switch tk.kind {
	case tText, tWS:
		m.text(tk.text)
	case tEmpty:
		m.text("")
	}
}
