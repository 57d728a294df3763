package run

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Natives are crew's own evaluations of the Perl code of GNU parallel's
// built-in replacement strings, so that the common cases need no perl
// and cost a few string operations. Each gives what perl gives for any
// argument without a newline (Perl's . stops at one, which these do not
// model); an argument with a newline goes to perl when it is on PATH.

// evalEnv is what a replacement string can see of its job.
type evalEnv struct {
	seq, slot int
	args      []string   // all the job's arguments, untrimmed (GNU parallel's @arg)
	total     func() int // the number of jobs (known when a template needs it)
	needTotal bool       // a template uses the total: perl gets it too
	maxJobs   int
	skip      bool // set by {choose_k} and {uniq} (and skip() in perl)
}

// native evaluates a replacement string for the argument s; unquoted
// says the result is not to be shell-quoted (GNU parallel's uq()).
type native func(s string, e *evalEnv) (result string, unquoted bool)

// nativeFactory makes the native of a use of a replacement string from
// the values its groups matched ({:2:3} gives "2", "3"); nil if crew
// cannot evaluate this use itself.
type nativeFactory func(groups []string) native

func fixed(f func(s string, e *evalEnv) string) nativeFactory {
	return func([]string) native {
		return func(s string, e *evalEnv) (string, bool) { return f(s, e), false }
	}
}

var (
	natIdentity      = fixed(func(s string, _ *evalEnv) string { return s })
	natSeq           = fixed(func(_ string, e *evalEnv) string { return strconv.Itoa(e.seq) })
	natSlot          = fixed(func(_ string, e *evalEnv) string { return strconv.Itoa(e.slot) })
	natTotal         = fixed(func(_ string, e *evalEnv) string { return strconv.Itoa(e.total()) })
	natBasename      = fixed(func(s string, _ *evalEnv) string { return basename(s) })
	natDirname       = fixed(func(s string, _ *evalEnv) string { return dirname(s) })
	natNoExt         = fixed(func(s string, _ *evalEnv) string { return noExt(s) })
	natBasenameNoExt = fixed(func(s string, _ *evalEnv) string { return noExt(basename(s)) })
	natPlusDir       = fixed(func(s string, _ *evalEnv) string {
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			return s[:i]
		}
		return ""
	})
	natPaddedSlot = fixed(func(_ string, e *evalEnv) string { return padded(e.slot, max(e.maxJobs, 1)) })
	natPaddedSeq  = fixed(func(_ string, e *evalEnv) string { return padded(e.seq, e.total()) })
	natChooseK    = fixed(func(s string, e *evalEnv) string {
		for t := 1; t < len(e.args); t++ {
			if e.args[t-1] >= e.args[t] {
				e.skip = true
			}
		}
		return s
	})
	natUniq = fixed(func(s string, e *evalEnv) string {
		// GNU parallel's @arg starts with an undef, which counts as "".
		sorted := append([]string{""}, e.args...)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != len(e.args)+1 {
			e.skip = true
		}
		return s
	})
)

func natLiteral(v string) nativeFactory {
	return func([]string) native { return func(string, *evalEnv) (string, bool) { return v, true } }
}

// padded is sprintf("%0${f}d", n) with f = 1+int(log(width)/log(10)),
// computed in floating point as GNU parallel does (so 1000 gives 3).
func padded(n, width int) string {
	f := 1 + int(math.Log(float64(width))/math.Log(10))
	if width <= 0 {
		f = 1
	}
	return fmt.Sprintf("%0*d", f, n)
}

// natNoExts removes n extensions: s:\.[^/.]*\.[^/.]*$:: for n = 2.
func natNoExts(n int) nativeFactory {
	return fixed(func(s string, _ *evalEnv) string { return cutExts(s, n) })
}

func natBasenameNoExts(n int) nativeFactory {
	return fixed(func(s string, _ *evalEnv) string { return cutExts(basename(s), n) })
}

// cutExts removes the last n dot-separated parts if no / follows the
// first of their dots, else returns s.
func cutExts(s string, n int) string {
	i := len(s)
	for range n {
		i = strings.LastIndexByte(s[:i], '.')
		if i < 0 {
			return s
		}
	}
	if strings.IndexByte(s[i:], '/') >= 0 {
		return s
	}
	return s[:i]
}

// natPlusExt is {+.} {+..} {+...}: the last n extensions. For n = 1 that
// is whatever follows the last dot, / or not (s:.*\.::); for more, what
// follows the nth dot from the end if no / is in it; else nothing.
func natPlusExt(n int) nativeFactory {
	return fixed(func(s string, _ *evalEnv) string {
		if n == 1 {
			if i := strings.LastIndexByte(s, '.'); i >= 0 {
				return s[i+1:]
			}
			return ""
		}
		i := len(s)
		for range n {
			i = strings.LastIndexByte(s[:i], '.')
			if i < 0 {
				return ""
			}
		}
		if strings.IndexByte(s[i+1:], '/') >= 0 {
			return ""
		}
		return s[i+1:]
	})
}

// natDefault is {:-str}: str if the value is false to Perl ("" or "0").
func natDefault(g []string) native {
	return func(s string, _ *evalEnv) (string, bool) {
		if s == "" || s == "0" {
			return g[0], false
		}
		return s, false
	}
}

// natCutFront is {:n}: the value without its first n bytes.
func natCutFront(g []string) native {
	n, err := strconv.Atoi(g[0])
	if err != nil {
		return nil
	}
	return func(s string, _ *evalEnv) (string, bool) { return s[min(n, len(s)):], false }
}

// natSubstr is {:pos:len}: Perl's substr; beyond the end it is "".
func natSubstr(g []string) native {
	pos, err1 := strconv.Atoi(g[0])
	n, err2 := strconv.Atoi(g[1])
	if err1 != nil || err2 != nil {
		return nil
	}
	return func(s string, _ *evalEnv) (string, bool) {
		if pos > len(s) {
			return "", false
		}
		return s[pos:min(pos+n, len(s))], false
	}
}

// noExt removes a final extension (s:\.[^/.]*$::): the last dot and what
// follows it, if no slash follows the dot.
func noExt(s string) string {
	i := strings.LastIndexAny(s, "./")
	if i >= 0 && s[i] == '.' {
		return s[:i]
	}
	return s
}

// basename is s:.*/::, which for a value without a newline removes up to
// the last slash.
func basename(s string) string {
	return s[strings.LastIndexByte(s, '/')+1:]
}

// dirname is Perl's File::Basename::dirname on Unix.
func dirname(s string) string {
	dir, base := fileparse(s)
	dir = trimTrailingSlashes(dir)
	if base == "" {
		dir, _ = fileparse(dir)
		dir = trimTrailingSlashes(dir)
	}
	return dir
}

// fileparse splits as m{^(.*/)?(.*)}s does, the directory "./" when there
// is none.
func fileparse(s string) (dir, base string) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "./", s
	}
	return s[:i+1], s[i+1:]
}

// trimTrailingSlashes is s{(.)/*\z}{$1}s: the slashes at the end go, but
// not the first character.
func trimTrailingSlashes(s string) string {
	if s == "" {
		return s
	}
	t := strings.TrimRight(s[1:], "/")
	return s[:1] + t
}
