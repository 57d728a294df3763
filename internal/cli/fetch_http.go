package cli

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/crewrun/crew/fetch"
)

// fetchHTTPOptions are crew fetch's curl-style request flags.
type fetchHTTPOptions struct {
	headers           []string
	user              string
	netrc             bool
	netrcFile         string
	cookie, cookieJar string
	insecure          bool
	cacert            string
	proxy             string
	limitRate         string
}

func (h *fetchHTTPOptions) addFlags(f *pflag.FlagSet) {
	f.StringArrayVarP(&h.headers, "header", "H", nil, "add `'NAME: VALUE'` to every request (repeatable); 'NAME:' drops crew's own, 'NAME;' sends it empty")
	f.StringVar(&h.user, "user", "", "HTTP Basic credentials `USER[:PASSWORD]` (asked on the terminal when no password)")
	f.BoolVar(&h.netrc, "netrc", false, "take credentials from ~/.netrc ($NETRC), by host (as curl -n)")
	f.StringVar(&h.netrcFile, "netrc-file", "", "take credentials from `FILE` in .netrc format")
	f.StringVar(&h.cookie, "cookie", "", "send cookies: `'NAME=VALUE; ...'` as given, or read a Netscape cookie FILE (one that does not exist yet is an empty jar, as in curl)")
	f.StringVar(&h.cookieJar, "cookie-jar", "", "write all cookies to `FILE` at the end, in Netscape format (curl -c, wget --save-cookies)")
	f.BoolVar(&h.insecure, "insecure", false, "accept any TLS certificate (curl -k)")
	f.StringVar(&h.cacert, "cacert", "", "trust only the certificate authorities in PEM `FILE` (curl --cacert)")
	f.StringVar(&h.proxy, "proxy", "", "use the proxy `URL` for every request: http://, https:// or socks5://; no scheme means http://")
	f.StringVar(&h.limitRate, "limit-rate", "", "at most `SPEED` bytes per second over all downloads together (K, M, G suffixes: 1024s); curl limits each transfer")
}

// apply sets cfg from the flags. The returned cleanup writes the cookie
// jar, if asked; it must run once the downloads are done.
func (h *fetchHTTPOptions) apply(cfg *fetch.Config, s Streams) (cleanup func() error, err error) {
	cleanup = func() error { return nil }
	if cfg.Header, err = parseHeaders(h.headers); err != nil {
		return nil, err
	}
	if h.user != "" {
		if cfg.User, err = parseUser(h.user); err != nil {
			return nil, err
		}
	}
	if h.netrc || h.netrcFile != "" {
		path, explicit := h.netrcFile, h.netrcFile != ""
		if !explicit {
			if path, err = fetch.DefaultNetrcPath(); err != nil {
				return nil, usagef("--netrc: %v", err)
			}
		}
		n, err := fetch.ReadNetrc(path)
		switch {
		case err == nil:
			cfg.Netrc = n
		case !explicit && errors.Is(err, fs.ErrNotExist):
			// curl -n goes on without credentials when there is no file.
		default:
			return nil, usagef("--netrc: %v", err)
		}
	}
	if h.cookie != "" || h.cookieJar != "" {
		jar, err := loadCookies(h.cookie, cfg)
		if err != nil {
			return nil, err
		}
		cfg.Jar = jar
		if h.cookieJar != "" {
			cleanup = func() error { return saveCookies(jar, h.cookieJar) }
		}
	}
	cfg.InsecureSkipVerify = h.insecure
	if h.cacert != "" {
		pem, err := os.ReadFile(h.cacert)
		if err != nil {
			return nil, usagef("--cacert: %v", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usagef("--cacert %s: no PEM certificate in it", h.cacert)
		}
	}
	if h.proxy != "" {
		if cfg.Proxy, err = parseProxy(h.proxy); err != nil {
			return nil, err
		}
	}
	if h.limitRate != "" {
		if cfg.LimitRate, err = parseSize(h.limitRate); err != nil {
			return nil, usagef("--limit-rate: %v", err)
		}
	}
	return cleanup, nil
}

// parseHeaders reads curl -H arguments: "Name: value" adds a header,
// "Name:" drops crew's own one, "Name;" sends it with an empty value.
func parseHeaders(args []string) (http.Header, error) {
	if len(args) == 0 {
		return nil, nil
	}
	h := http.Header{}
	for _, a := range args {
		if name, ok := strings.CutSuffix(strings.TrimSpace(a), ";"); ok && !strings.Contains(name, ":") && validHeaderName(name) {
			h.Add(textproto.CanonicalMIMEHeaderKey(name), "")
			continue
		}
		name, value, ok := strings.Cut(a, ":")
		name = strings.TrimSpace(name)
		if !ok || !validHeaderName(name) {
			return nil, usagef("-H %q: want 'NAME: VALUE'", a)
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, usagef("-H %q: a header value cannot hold a line break", a)
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		value = strings.TrimSpace(value)
		if value == "" {
			h[key] = nil // drop crew's own header of that name
			continue
		}
		h[key] = append(h[key], value)
	}
	return h, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// parseUser reads --user USER[:PASSWORD]; without a password it asks on
// the terminal, as curl does.
func parseUser(v string) (*url.Userinfo, error) {
	name, password, ok := strings.Cut(v, ":")
	if ok {
		return url.UserPassword(name, password), nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, usagef("--user %s: no password given, and no terminal to ask for it (write USER:PASSWORD)", name)
	}
	defer tty.Close()
	fmt.Fprintf(tty, "Enter host password for user '%s':", name)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, usagef("--user: reading the password: %v", err)
	}
	return url.UserPassword(name, string(pw)), nil
}

// loadCookies starts a jar from --cookie: a literal "a=b; c=d" goes in the
// Cookie header of every request, as curl -b does; anything else names a
// Netscape cookie file.
func loadCookies(arg string, cfg *fetch.Config) (*fetch.CookieJar, error) {
	jar := fetch.NewCookieJar()
	switch {
	case arg == "":
	case strings.Contains(arg, "="):
		if cfg.Header == nil {
			cfg.Header = http.Header{}
		}
		cfg.Header.Add("Cookie", arg)
	default:
		b, err := os.ReadFile(arg)
		if errors.Is(err, fs.ErrNotExist) {
			break // curl: a jar that does not exist yet is empty
		}
		if err != nil {
			return nil, usagef("--cookie: %v", err)
		}
		if err := jar.Load(bytes.NewReader(b)); err != nil {
			return nil, usagef("--cookie %s: %v", arg, err)
		}
	}
	return jar, nil
}

// saveCookies writes jar to path through a temporary file, so a failed
// write never leaves half a jar.
func saveCookies(jar *fetch.CookieJar, path string) error {
	var b bytes.Buffer
	if err := jar.Save(&b); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cookies-*")
	if err != nil {
		return fmt.Errorf("--cookie-jar: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("--cookie-jar: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--cookie-jar: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--cookie-jar: %w", err)
	}
	return nil
}

// parseProxy reads --proxy as curl does: a URL, http:// when it has no
// scheme.
func parseProxy(v string) (*url.URL, error) {
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return nil, usagef("--proxy: %v", err)
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, usagef("--proxy %s: scheme %q not supported (http, https, socks5)", fetch.Redact(v), u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, usagef("--proxy %s: no host", fetch.Redact(v))
	}
	return u, nil
}
