package treecopy

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Quote returns name as ls shows it on a terminal (its shell-escape
// quoting style): unchanged when the shell would read it as it is, else
// in quotes, with newlines, other control characters and bytes that are
// not UTF-8 written as $'\n' or $'\ooo', so that a line of output is
// always one name and can be pasted back into a shell.
func Quote(name string) string {
	if name == "" {
		return "''"
	}
	needs, ctl, single, dquotable := false, false, false, true
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		switch {
		case !printable(r, size):
			needs, ctl, dquotable = true, true, false
		case r == '\'':
			needs, single = true, true
		case r == '#' || r == '~':
			needs = needs || i == 0 // special only where a word starts
		case strings.ContainsRune(" !\"$&()*;<=>?[\\^`|", r):
			needs = true
			if strings.ContainsRune("\"$`\\!", r) {
				dquotable = false // special inside double quotes too
			}
		}
		i += size
	}
	switch {
	case !needs:
		return name
	case single && dquotable && !ctl:
		return `"` + name + `"`
	}
	var b strings.Builder
	b.WriteByte('\'')
	quoted, escaping := true, false
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if !printable(r, size) {
			if quoted {
				b.WriteByte('\'')
				quoted = false
			}
			if !escaping {
				b.WriteString("$'")
				escaping = true
			}
			for _, c := range []byte(name[i : i+size]) {
				b.WriteString(escape(c))
			}
			i += size
			continue
		}
		if escaping {
			b.WriteByte('\'')
			escaping = false
		}
		if !quoted {
			b.WriteByte('\'')
			quoted = true
		}
		if r == '\'' {
			b.WriteString(`'\''`)
		} else {
			b.WriteString(name[i : i+size])
		}
		i += size
	}
	b.WriteByte('\'') // closes a quote or an escape
	return b.String()
}

// printable reports whether the rune r, size bytes long, is shown as it is.
func printable(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1:
		return false // not UTF-8
	case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
		return false
	}
	return true
}

func escape(c byte) string {
	switch c {
	case '\a':
		return `\a`
	case '\b':
		return `\b`
	case '\f':
		return `\f`
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	case '\v':
		return `\v`
	}
	s := strconv.FormatUint(uint64(c), 8)
	return `\` + strings.Repeat("0", 3-len(s)) + s
}
