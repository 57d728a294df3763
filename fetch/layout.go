package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Layout says how a URL maps to a file under a download directory. Both
// layouts are pure functions of the URL (the same URL always gives the same
// path, whatever was saved before) and never leave the directory.
//
// Layout implements pflag.Value (String, Set, Type), so it can be a
// command-line flag directly.
type Layout int

const (
	// LayoutFlat saves every URL as HOST/NAME, one file per URL directly
	// under its host's directory; see FileName. Distinct URLs get distinct
	// files (apart from the fragment, the scheme and the host's case), and
	// no file is ever in the way of a directory.
	LayoutFlat Layout = iota
	// LayoutTree saves URLs as wget -x (and wget -r) does: HOST/DIR/.../FILE,
	// following the URL's path; see Layout.Path for the exact rules.
	LayoutTree
)

// ParseLayout parses a layout name: "flat" or "tree".
func ParseLayout(s string) (Layout, error) {
	switch s {
	case "flat":
		return LayoutFlat, nil
	case "tree":
		return LayoutTree, nil
	}
	return 0, fmt.Errorf("unknown layout %q (want flat or tree)", s)
}

// String returns the layout's name, as ParseLayout accepts it.
func (l Layout) String() string {
	switch l {
	case LayoutFlat:
		return "flat"
	case LayoutTree:
		return "tree"
	}
	return "Layout(" + strconv.Itoa(int(l)) + ")"
}

// Set parses s into l (for pflag.Value).
func (l *Layout) Set(s string) error {
	v, err := ParseLayout(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Type names the flag's value type in --help (for pflag.Value).
func (l *Layout) Type() string { return "flat|tree" }

// Limits on what Path returns. Most file systems allow 255 bytes per name
// and 4096 per path; the margins leave room for suffixes such as "%part"
// and for the directory the path goes under.
const (
	maxNameLen = 200  // one component
	maxPathLen = 1024 // the whole relative path
)

// ErrNoHost reports a URL that Layout.Path cannot place: it has no host
// name (none at all, or only a port).
var ErrNoHost = errors.New("URL has no host")

// Path returns where u is saved, as a slash-separated path relative to the
// download directory. The result is never empty, never absolute, has no
// empty, "." or ".." component, and satisfies filepath.IsLocal on every
// operating system; every component is at most 200 bytes and the whole path
// at most 1024 bytes, and it is valid UTF-8. The user info, the fragment and
// the scheme do not take part.
//
// LayoutFlat returns FileName(u) with "/" as separator.
//
// LayoutTree follows wget -x (checked against GNU Wget 1.21):
//
//   - the first component is the host, lower-cased, with ":PORT" when the
//     port is not the scheme's default ("+PORT" on Windows, as wget);
//   - then the path's segments, percent-decoded: "." and ".." segments are
//     resolved first (so they never climb above the host), empty segments
//     and segments that decode to "." are dropped, and one that decodes
//     to ".." is written "%2E%2E";
//   - a path that is empty or ends in "/" names the file "index.html";
//   - a query is appended to the last component after "?" ("@" on
//     Windows), percent-decoded as wget does ("+" stays "+");
//   - in names, "/", control characters (C0, DEL, C1) and bytes that are
//     not UTF-8 are written as %XX (wget writes C1 characters and invalid
//     UTF-8 as they are; crew keeps names valid and printable); on Windows
//     also \ : * ? " < > |,
//     a trailing dot or space and device names such as CON;
//   - a component longer than 200 bytes is cut to 150 bytes (at a character
//     boundary) plus "~" and 32 hex digits of the SHA-256 of the whole
//     component; a path still longer than 1024 bytes keeps its leading
//     components that fit and replaces the rest by one such shortened name.
//
// Distinct URLs can share a tree path ("/a/" and "/a/index.html", "/a%20b"
// and "/a b", "/x//y" and "/x/y"), as they do in wget; Run reports the later
// one as a duplicate. Two URLs can also need the same name as a file and as
// a directory ("/a" and "/a/b"): the tree cannot hold both, and whichever
// comes second fails when it is saved (wget also fails for a file that finds
// a directory in its place, but deletes a file that is in the way of a
// directory; crew never deletes a saved file). LayoutFlat has neither
// problem.
func (l Layout) Path(u *url.URL) (string, error) {
	if u == nil || u.Hostname() == "" {
		return "", ErrNoHost
	}
	switch l {
	case LayoutFlat:
		return flatPath(u), nil
	case LayoutTree:
		return treePath(u, runtime.GOOS == "windows"), nil
	}
	return "", fmt.Errorf("fetch: unknown %v", l)
}

func flatPath(u *url.URL) string {
	host := shorten(escapeName(strings.ToLower(u.Host)))
	name := escapeName(strings.TrimPrefix(u.EscapedPath(), "/"))
	if name == "" {
		name = "%root" // escapeName never writes "%" before a non-hex digit
	}
	if u.RawQuery != "" || u.ForceQuery {
		name += "%3F" + escapeName(u.RawQuery)
	}
	return host + "/" + shorten(name)
}

// treePath is Path for LayoutTree; windows selects Windows' file name rules
// (a parameter so that both are tested everywhere).
func treePath(u *url.URL, windows bool) string {
	portSep, querySep := ":", "?"
	if windows {
		portSep, querySep = "+", "@"
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	if p := u.Port(); p != "" && p != defaultPort(u.Scheme) {
		host += portSep + p
	}
	comps := []string{shorten(safeName(host, windows))}

	// Resolve dot segments on the raw path, before decoding, as wget does:
	// an encoded "%2E%2E" is a name, not a step up.
	segs := strings.Split(u.EscapedPath(), "/")
	var dirs []string
	file := "index.html"
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(dirs) > 0 {
				dirs = dirs[:len(dirs)-1]
			}
			continue
		}
		name, err := url.PathUnescape(seg)
		if err != nil {
			name = seg
		}
		if name == "." {
			continue // as wget, whose file system then resolves it
		}
		name = safeName(name, windows)
		if last {
			file = name
		} else {
			dirs = append(dirs, shorten(name))
		}
	}
	if u.RawQuery != "" || u.ForceQuery {
		q, err := url.PathUnescape(u.RawQuery) // "+" stays "+", as in wget
		if err != nil {
			q = u.RawQuery
		}
		file += querySep + safeName(q, windows)
	}
	comps = append(comps, dirs...)
	comps = append(comps, shorten(file))

	p := strings.Join(comps, "/")
	if len(p) <= maxPathLen {
		return p
	}
	// Too long: keep the leading components that fit with room for one
	// shortened name, and fold the rest into that name.
	room := maxPathLen - maxNameLen - 1
	keep, n := 1, len(comps[0])
	for keep < len(comps)-1 && n+1+len(comps[keep]) <= room {
		n += 1 + len(comps[keep])
		keep++
	}
	rest := strings.Join(comps[keep:], "/")
	sum := sha256.Sum256([]byte(rest))
	tail := cutUTF8(comps[len(comps)-1], 100) + "~" + hex.EncodeToString(sum[:16])
	return strings.Join(append(comps[:keep:keep], tail), "/")
}

func defaultPort(scheme string) string {
	switch scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// safeName makes s a safe file name: see Layout.Path.
func safeName(s string, windows bool) string {
	const hexdig = "0123456789ABCDEF"
	if s == "." || s == ".." {
		return strings.ReplaceAll(s, ".", "%2E")
	}
	var b strings.Builder
	esc := func(c byte) {
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1, r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
			for j := range size {
				esc(s[i+j])
			}
		case r == '/':
			esc('/')
		case windows && strings.ContainsRune(`\:*?"<>|`, r):
			esc(byte(r))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	out := b.String()
	if windows {
		out = windowsSafe(out)
	}
	return out
}

// windowsSafe escapes what Windows refuses in a name that has no forbidden
// characters left: a trailing dot or space, and device names (CON, NUL,
// COM1, … with or without an extension).
func windowsSafe(s string) string {
	if n := len(s); n > 0 && (s[n-1] == '.' || s[n-1] == ' ') {
		s = s[:n-1] + fmt.Sprintf("%%%02X", s[n-1])
	}
	base, _, _ := strings.Cut(s, ".")
	switch strings.ToUpper(strings.TrimRight(base, " ")) {
	case "CON", "PRN", "AUX", "NUL",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		s = fmt.Sprintf("%%%02X", s[0]) + s[1:]
	}
	return s
}

// shorten cuts a name longer than maxNameLen to 150 bytes plus "~" and 32
// hex digits of the SHA-256 of the whole name, so long names stay distinct.
func shorten(name string) string {
	if len(name) <= maxNameLen {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return cutUTF8(name, 150) + "~" + hex.EncodeToString(sum[:16])
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
