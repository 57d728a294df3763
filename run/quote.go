package run

import "strings"

// Quote shell-quotes s the way GNU parallel does: left alone if it is made
// only of letters, digits and -_.+/ ; otherwise wrapped in single quotes,
// each single quote written as '"'"', and empty ” pairs trimmed from the
// ends. The empty string becomes ”.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if !needsQuoting(s) {
		return s
	}
	q := "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
	q = strings.TrimPrefix(q, "''")
	q = strings.TrimSuffix(q, "''")
	return q
}

func needsQuoting(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '+' || c == '/':
		default:
			return true
		}
	}
	return false
}

// splitWords splits a command line into words when it uses no shell
// feature but quoting — plain words, '...' and "..." without $, ` or \ —
// so that the job can be executed directly, without a shell. ok is false
// when a shell is needed.
func splitWords(line string) (words []string, ok bool) {
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, false
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				return nil, false
			}
			part := line[i+1 : i+1+j]
			if strings.ContainsAny(part, "$`\\!") {
				return nil, false
			}
			w.WriteString(part)
			i += j + 1
			inWord = true
		case plainByte(c):
			w.WriteByte(c)
			inWord = true
		default:
			return nil, false // | & ; < > ( ) $ ` \ * ? [ ] # ~ = % { } ! newline ...
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	if len(words) == 0 || shellOnly[words[0]] {
		return nil, false
	}
	return words, true
}

func plainByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '-' || c == '_' || c == '.' || c == '+' || c == '/' || c == ',' || c == ':' || c == '@' || c == '^':
		return true
	case c >= 0x80: // UTF-8 bytes of non-ASCII letters
		return true
	}
	return false
}

// shellOnly lists words that mean something else to a shell than as a
// program name: keywords and builtins that have no program of their own.
var shellOnly = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "fi": true, "case": true, "esac": true,
	"for": true, "while": true, "until": true, "do": true, "done": true, "function": true,
	"cd": true, "exit": true, "export": true, "unset": true, "set": true, "source": true, ".": true,
	"exec": true, "eval": true, "alias": true, "read": true, "wait": true, "trap": true, "ulimit": true,
	"umask": true, "shift": true, "return": true, "local": true, "readonly": true, "times": true,
	"break": true, "continue": true, "command": true, "type": true, "hash": true, "builtin": true,
}
