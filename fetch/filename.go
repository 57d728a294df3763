package fetch

import (
	"net/url"
	"path/filepath"
	"strings"
)

// FileName maps a URL to a relative path "HOST/NAME" under a download
// directory, with the operating system's separator; it is LayoutFlat's
// Path. The mapping is:
//
//   - HOST is the URL's host[:port], lower-cased, escaped as below ("%00"
//     when the URL has none);
//   - NAME is the escaped path without its leading "/" (the path "/" or ""
//     becomes "%root", which no escaped path can equal), followed by "%3F" and the escaped raw query when
//     there is one, so URLs that differ only in query get different files;
//   - escaping keeps the bytes A–Z a–z 0–9 "-" "_" "." and writes every
//     other byte, including "/" and "%", as %XX (upper-case hex), and a
//     leading "." as %2E, so names never contain separators, never are
//     "." or "..", and distinct URLs give distinct names;
//   - a HOST or NAME longer than 200 bytes is cut to 150 bytes plus "~" and
//     32 hex digits of the SHA-256 of the full escaped name.
//
// The result always satisfies filepath.IsLocal. The fragment is ignored.
func FileName(u *url.URL) string {
	if u.Host == "" {
		u = &url.URL{Host: "\x00", Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery, ForceQuery: u.ForceQuery}
	}
	return filepath.FromSlash(flatPath(u))
}

func escapeName(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if ok && !(i == 0 && c == '.') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}
