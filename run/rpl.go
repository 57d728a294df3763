package run

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A replacement string is, as in GNU parallel, a tag (such as {.}) that
// stands for Perl code run on each argument: --rpl defines more, -I and
// --extensionreplace and the like rename the built-in ones, --plus adds
// its set. crew evaluates the built-in code itself (natives, in
// native.go) and hands any other code to perl.

// rplDef is one replacement string: its tag, which may hold a regular
// expression in parentheses for the dynamic ones ({%(.+?)}), and the
// Perl code it stands for, in which $$1 names the first group.
type rplDef struct {
	tag, code string
	native    nativeFactory // nil: only perl can evaluate it
}

// builtinRpl are GNU parallel's seven replacement strings, with the same
// Perl code (GNU parallel's --rpl documentation lists it).
var builtinRpl = []rplDef{
	{"{}", "", natIdentity},
	{"{#}", "1 $_=$job->seq()", natSeq},
	{"{%}", "1 $_=$job->slot()", natSlot},
	{"{/}", "s:.*/::", natBasename},
	{"{//}", `$Global::use{"File::Basename"} ||= eval "use File::Basename; 1;"; $_ = dirname($_);`, natDirname},
	{"{/.}", `s:.*/::; s:\.[^/.]*$::;`, natBasenameNoExt},
	{"{.}", `s:\.[^/.]*$::`, natNoExt},
}

// plusRpl are the replacement strings --plus adds.
var plusRpl = []rplDef{
	{"{+/}", `s:/[^/]*$:: || s:.*$::`, natPlusDir},
	{"{+.}", `s:.*\.:: || s:.*$::`, natPlusExt(1)},
	{"{+..}", `s:.*\.([^/.]*\.[^/.]*)$:$1: || s:.*$::`, natPlusExt(2)},
	{"{+...}", `s:.*\.([^/.]*\.[^/.]*\.[^/.]*)$:$1: || s:.*$::`, natPlusExt(3)},
	{"{..}", `s:\.[^/.]*\.[^/.]*$::`, natNoExts(2)},
	{"{...}", `s:\.[^/.]*\.[^/.]*\.[^/.]*$::`, natNoExts(3)},
	{"{/..}", `s:.*/::; s:\.[^/.]*\.[^/.]*$::`, natBasenameNoExts(2)},
	{"{/...}", `s:.*/::; s:\.[^/.]*\.[^/.]*\.[^/.]*$::`, natBasenameNoExts(3)},
	{"{choose_k}", `for $t (2..$#arg){ if($arg[$t-1] ge $arg[$t]) { skip() } }`, natChooseK},
	{"{uniq}", `if(::uniq(@arg) != @arg) { skip(); }`, natUniq},
	{"{##}", `1 $_=total_jobs()`, natTotal},
	{"{0%}", `1 $f=1+int((log($Global::max_jobs_running||1)/log(10)));$_=sprintf("%0${f}d",slot())`, natPaddedSlot},
	{"{0#}", `1 $f=1+int((log(total_jobs())/log(10)));$_=sprintf("%0${f}d",seq())`, natPaddedSeq},
	{"{:-([^}]+?)}", `$_ ||= $$1`, natDefault},
	{"{:(\\d+?)}", `substr($_,0,$$1) = ""`, natCutFront},
	{"{:(\\d+?):(\\d+?)}", `$_ = substr($_,$$1,$$2);`, natSubstr},
	{"{#([^#}][^}]*?)}", `$nongreedy=::make_regexp_ungreedy($$1);s/^$nongreedy(.*)/$1/;`, nil},
	{"{##([^#}][^}]*?)}", `s/^$$1//;`, nil},
	{"{%([^}]+?)}", `$nongreedy=::make_regexp_ungreedy($$1);s/(.*)$nongreedy$/$1/;`, nil},
	{"{%%([^}]+?)}", `s/$$1$//;`, nil},
	{"{/([^#%}/]+?)/([^}]*?)}", `s/$$1/$$2/;`, nil},
	{"{/#([^}]+?)/([^}]*?)}", `s/^$$1/$$2/g;`, nil},
	{"{/%([^}]+?)/([^}]*?)}", `s/$$1$/$$2/g;`, nil},
	{"{//([^}]+?)/([^}]*?)}", `s/$$1/$$2/g;`, nil},
	{"{^([^}]+?)}", `s/^($$1)/uc($1)/e;`, nil},
	{"{^^([^}]+?)}", `s/($$1)/uc($1)/eg;`, nil},
	{"{,([^}]+?)}", `s/^($$1)/lc($1)/e;`, nil},
	{"{,,([^}]+?)}", `s/($$1)/lc($1)/eg;`, nil},
	{"{slot}", `1 $_="\${PARALLEL_JOBSLOT}";uq()`, natLiteral("${PARALLEL_JOBSLOT}")},
	{"{host}", `1 $_="\${PARALLEL_SSHHOST}";uq()`, natLiteral("${PARALLEL_SSHHOST}")},
	{"{sshlogin}", `1 $_="\${PARALLEL_SSHLOGIN}";uq()`, natLiteral("${PARALLEL_SSHLOGIN}")},
	{"{hgrp}", `1 $_="\${PARALLEL_HOSTGROUPS}";uq()`, natLiteral("${PARALLEL_HOSTGROUPS}")},
	{"{agrp}", `1 $_="\${PARALLEL_ARGHOSTGROUPS}";uq()`, natLiteral("${PARALLEL_ARGHOSTGROUPS}")},
}

// Replacements configures the replacement strings: GNU parallel's -I,
// --extensionreplace, --basenamereplace, --dirnamereplace,
// --basenameextensionreplace, --seqreplace, --slotreplace, --plus,
// --rpl and --parens. The zero value is GNU parallel's default.
type Replacements struct {
	Arg, NoExt, Basename, Dirname, BasenameNoExt, Seq, Slot string // new tags for {} {.} {/} {//} {/.} {#} {%}
	Plus                                                    bool
	Rpl                                                     []string // "TAG PERL-CODE", as for --rpl
	Parens                                                  string   // the {= =} pair, both halves of one length; "" is "{==}"
}

// rplSet is the replacement strings in force, with the parentheses of
// {= perl =}.
type rplSet struct {
	defs        []rplDef // longest tag first: a short tag may be part of a long one
	left, right string
	compiled    []*compiledRpl
}

type compiledRpl struct {
	def        rplDef
	re, posRe  *regexp.Regexp // posRe: the positional form {3.}, for tags starting with {
	groupCount int
}

func newRplSet(r Replacements) (*rplSet, error) {
	parens := r.Parens
	if parens == "" {
		parens = "{==}"
	}
	if len(parens)%2 != 0 || len(parens) < 2 {
		return nil, fmt.Errorf("--parens %q: want two halves of one length, like {==}", parens)
	}
	s := &rplSet{left: parens[:len(parens)/2], right: parens[len(parens)/2:]}
	byTag := map[string]rplDef{}
	var order []string
	put := func(d rplDef) {
		if _, ok := byTag[d.tag]; !ok {
			order = append(order, d.tag)
		}
		byTag[d.tag] = d
	}
	if r.Plus {
		for _, d := range plusRpl {
			put(d)
		}
	}
	for _, d := range builtinRpl {
		put(d)
	}
	rename := func(old, new string) {
		if new == "" || new == old {
			return
		}
		d := byTag[old]
		delete(byTag, old)
		d.tag = new
		put(d)
	}
	rename("{}", r.Arg)
	rename("{.}", r.NoExt)
	rename("{/}", r.Basename)
	rename("{//}", r.Dirname)
	rename("{#}", r.Seq)
	rename("{%}", r.Slot)
	rename("{/.}", r.BasenameNoExt)
	for _, def := range r.Rpl {
		tag, code := def, ""
		if i := strings.IndexAny(def, " \t\n\r\f\v"); i >= 0 {
			tag, code = def[:i], def[i+1:]
		}
		if tag == "" {
			return nil, fmt.Errorf("--rpl %q: want 'TAG PERL-CODE'", def)
		}
		put(rplDef{tag: tag, code: code})
	}
	for _, tag := range order {
		if d, ok := byTag[tag]; ok && d.tag == tag {
			s.defs = append(s.defs, d)
		}
	}
	// GNU parallel replaces long tags before short ones; among tags of one
	// length the order is Perl's hash order, which no one can rely on, so
	// crew keeps definition order.
	slices.SortStableFunc(s.defs, func(a, b rplDef) int { return len(b.tag) - len(a.tag) })
	for _, d := range s.defs {
		c, err := compileRpl(d)
		if err != nil {
			return nil, err
		}
		s.compiled = append(s.compiled, c)
	}
	return s, nil
}

// rplShape splits a tag as GNU parallel does: the text before the first
// (, the group from there to the last ), and the rest.
var rplShape = regexp.MustCompile(`(?s)^([^(]*)(\(.*\))?([^)]*)$`)

func compileRpl(d rplDef) (*compiledRpl, error) {
	m := rplShape.FindStringSubmatch(d.tag)
	if m == nil {
		return nil, fmt.Errorf("replacement string %q: a ( without a matching ) or the like; GNU parallel cannot use it either", d.tag)
	}
	prefix, group, postfix := m[1], m[2], m[3]
	re, err := regexp.Compile(regexp.QuoteMeta(prefix) + group + regexp.QuoteMeta(postfix))
	if err != nil {
		return nil, fmt.Errorf("replacement string %q: crew reads its group as a Go regular expression: %w", d.tag, err)
	}
	c := &compiledRpl{def: d, re: re, groupCount: re.NumSubexp()}
	if p, ok := strings.CutPrefix(prefix, "{"); ok {
		c.posRe = regexp.MustCompile(`\{(-?\d+)\s*` + regexp.QuoteMeta(p) + group + regexp.QuoteMeta(postfix))
	}
	return c, nil
}

// perlQuote escapes \ " $ @ for a Perl double-quoted string, as GNU
// parallel's perl_quote_scalar does.
func perlQuote(s string) string {
	if !strings.ContainsAny(s, `\"$@`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\', '"', '$', '@':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// groupRef matches $$1, $$2 ... in an --rpl's code.
var groupRef = regexp.MustCompile(`\$\$(\d+)`)

// codeFor returns the Perl code GNU parallel builds for a use of a
// replacement string: the groups' values assigned to $_pAr_gRp1 ...,
// then the code with $$N renamed to them. pos is the position of the
// positional form, "" for the plain one.
func codeFor(d rplDef, pos string, groups []string) string {
	if len(groups) == 0 {
		return pos + d.code
	}
	var b strings.Builder
	b.WriteString(pos)
	for i, g := range groups {
		fmt.Fprintf(&b, "$_pAr_gRp%d = \"%s\";", i+1, perlQuote(g))
	}
	b.WriteString(groupRef.ReplaceAllString(d.code, `$$_pAr_gRp$1`))
	return b.String()
}
