package fetch_test

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewrun/crew/fetch"
	"github.com/crewrun/crew/internal/proxytest"
)

// echoHeaders serves the request's headers back, one "Name: value" a line,
// sorted, plus "Host: …".
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	var lines []string
	for k, vs := range r.Header {
		for _, v := range vs {
			lines = append(lines, k+": "+v)
		}
	}
	lines = append(lines, "Host: "+r.Host)
	slices.Sort(lines)
	io.WriteString(w, strings.Join(lines, "\n")+"\n")
}

func TestConfigHeader(t *testing.T) {
	srv := serve(t, echoHeaders)
	c := newClient(t, fetch.Config{Header: http.Header{
		"X-Multi":    {"one", "two"},
		"User-Agent": nil, // drop crew's own
		"X-Empty":    {""},
		"Host":       {"virtual.example"},
		"Range":      {"bytes=0-1"}, // a download's own header wins
	}})
	resp, err := c.Get(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := string(resp.Body)
	for _, want := range []string{"X-Multi: one\n", "X-Multi: two\n", "X-Empty: \n", "Host: virtual.example\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("headers sent:\n%s\nlack %q", got, want)
		}
	}
	if strings.Contains(got, "User-Agent") {
		t.Errorf("User-Agent sent though dropped:\n%s", got)
	}
	resp, body, err := c.Open(t.Context(), srv.URL, http.Header{"Range": {"bytes=0-"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if !strings.Contains(string(b), "Range: bytes=0-\n") || resp.Status != 200 {
		t.Errorf("the call's Range did not replace Config's:\n%s", b)
	}
}

// authServer answers 200 to Basic alice:pw, 401 otherwise, and redirects
// /to?u=URL.
func authServer(t *testing.T, hits *atomic.Int32) *httptest.Server {
	return serve(t, func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("u"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		if hits != nil {
			hits.Add(1)
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "auth %q", r.Header.Get("Authorization"))
			return
		}
		io.WriteString(w, "welcome")
	})
}

// otherHost rewrites srv's URL to name the same server as "localhost",
// which net/http treats as another host.
func otherHost(srv *httptest.Server) string {
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}

// TestUserCredentials: Config.User goes with every request and with
// redirects on the same host, never to another host.
func TestUserCredentials(t *testing.T) {
	srv := authServer(t, nil)
	c := newClient(t, fetch.Config{User: url.UserPassword("alice", "pw")})
	if resp, err := c.Get(t.Context(), srv.URL+"/x"); err != nil || string(resp.Body) != "welcome" {
		t.Errorf("direct: %v %q", err, resp.Body)
	}
	if resp, err := c.Get(t.Context(), srv.URL+"/r?u=/x"); err != nil || string(resp.Body) != "welcome" {
		t.Errorf("same-host redirect: %v %q", err, resp.Body)
	}
	resp, err := c.Get(t.Context(), srv.URL+"/r?u="+url.QueryEscape(otherHost(srv)+"/x"))
	if err == nil || resp.Status != 401 || string(resp.Body) != `auth ""` {
		t.Errorf("redirect to another host carried the credentials: %v %d %q", err, resp.Status, resp.Body)
	}
	// Credentials in the URL itself, through a same-host redirect.
	c = newClient(t, fetch.Config{})
	u := strings.Replace(srv.URL, "http://", "http://alice:pw@", 1)
	if resp, err := c.Get(t.Context(), u+"/r?u=/x"); err != nil || string(resp.Body) != "welcome" {
		t.Errorf("URL credentials through a same-host redirect: %v %q", err, resp.Body)
	}
}

func TestNetrcCredentials(t *testing.T) {
	srv := authServer(t, nil)
	n, err := fetch.ParseNetrc(strings.NewReader("machine localhost login alice password pw\n" +
		"machine 127.0.0.1\n  login \"alice\"\n  password \"p\\w\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, fetch.Config{Netrc: n})
	// 127.0.0.1's password (p\w unquoted to "pw") and then localhost's own.
	if resp, err := c.Get(t.Context(), srv.URL+"/x"); err != nil || string(resp.Body) != "welcome" {
		t.Errorf("netrc for 127.0.0.1: %v %q", err, resp.Body)
	}
	if resp, err := c.Get(t.Context(), srv.URL+"/r?u="+url.QueryEscape(otherHost(srv)+"/x")); err != nil || string(resp.Body) != "welcome" {
		t.Errorf("netrc for the redirect's host: %v %q", err, resp.Body)
	}
}

func TestParseNetrc(t *testing.T) {
	n, err := fetch.ParseNetrc(strings.NewReader(`# a comment line, as curl reads them
machine a.example login la password pa
#another
macdef init
cd /pub
binary

machine B.example login lb
  password "with \"space\""
default login anon password guest
`))
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{"a.example": "la:pa", "b.EXAMPLE": `lb:with "space"`, "c.example": "anon:guest"} {
		l, p, ok := n.Lookup(host)
		if !ok || l+":"+p != want {
			t.Errorf("Lookup(%s) = %s:%s %v, want %s", host, l, p, ok, want)
		}
	}
	for _, bad := range []string{"login x", "machine", "machine a password", `machine a password "open`, "default\ndefault", "frobnicate", "machine a login b #c"} {
		if _, err := fetch.ParseNetrc(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("ParseNetrc(%q) = %v, want an error naming the line", bad, err)
		}
	}
}

func FuzzParseNetrc(f *testing.F) {
	f.Add("machine a login b password c\ndefault login d password e\n")
	f.Add("macdef x\nline\n\nmachine \"q\\\"\" login l")
	f.Add("machine a\n\n\nlogin \"\\n\\t\"")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := fetch.ParseNetrc(strings.NewReader(s))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		n.Lookup("a")
	})
}

// TestCookieJarRoundTrip: cookies a server sets go back on later requests
// by RFC 6265's rules, and survive Save and Load.
func TestCookieJarRoundTrip(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/set":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc"})
			http.SetCookie(w, &http.Cookie{Name: "deep", Value: "1", Path: "/sub"})
			http.SetCookie(w, &http.Cookie{Name: "tls", Value: "1", Secure: true})
			http.SetCookie(w, &http.Cookie{Name: "long", Value: "2", MaxAge: 3600, HttpOnly: true})
			http.SetCookie(w, &http.Cookie{Name: "super", Value: "x", Domain: "com"})
			http.SetCookie(w, &http.Cookie{Name: "gone", Value: "x", MaxAge: -1})
		default:
			var names []string
			for _, c := range r.Cookies() {
				names = append(names, c.Name+"="+c.Value)
			}
			io.WriteString(w, strings.Join(names, " "))
		}
	})
	jar := fetch.NewCookieJar()
	c := newClient(t, fetch.Config{Jar: jar})
	if _, err := c.Get(t.Context(), srv.URL+"/set"); err != nil {
		t.Fatal(err)
	}
	check := func(c *fetch.Client, path, want string) {
		t.Helper()
		resp, err := c.Get(t.Context(), srv.URL+path)
		if err != nil || string(resp.Body) != want {
			t.Errorf("%s: cookies sent %q, want %q (%v)", path, resp.Body, want, err)
		}
	}
	check(c, "/", "session=abc long=2")
	check(c, "/sub/page", "deep=1 session=abc long=2")

	var saved bytes.Buffer
	if err := jar.Save(&saved); err != nil {
		t.Fatal(err)
	}
	host := strings.Split(strings.TrimPrefix(srv.URL, "http://"), ":")[0]
	for _, want := range []string{host + "\tFALSE\t/\tFALSE\t0\tsession\tabc\n", "#HttpOnly_" + host + "\tFALSE\t/\tFALSE\t", host + "\tFALSE\t/\tTRUE\t0\ttls\t1\n"} {
		if !strings.Contains(saved.String(), want) {
			t.Errorf("saved jar lacks %q:\n%s", want, saved.String())
		}
	}
	jar2 := fetch.NewCookieJar()
	if err := jar2.Load(bytes.NewReader(saved.Bytes())); err != nil {
		t.Fatal(err)
	}
	// Loaded cookies are as old as their order in the file.
	check(newClient(t, fetch.Config{Jar: jar2}), "/sub/x", "deep=1 long=2 session=abc")
	var again bytes.Buffer
	jar2.Save(&again)
	if again.String() != saved.String() {
		t.Errorf("Load then Save changed the jar:\n%s\nwas\n%s", again.String(), saved.String())
	}
}

func TestCookieJarLoadErrors(t *testing.T) {
	for _, bad := range []string{
		"a.example\tTRUE\t/\tFALSE\n",
		"a.example\tMAYBE\t/\tFALSE\t0\tn\tv\n",
		"a.example\tTRUE\t/\tFALSE\tsoon\tn\tv\n",
		"a.example\tTRUE\tnoslash\tFALSE\t0\tn\tv\n",
	} {
		err := fetch.NewCookieJar().Load(strings.NewReader("# Netscape HTTP Cookie File\n\n" + bad))
		if err == nil || !strings.Contains(err.Error(), "line 3") {
			t.Errorf("Load(%q) = %v, want an error naming line 3", bad, err)
		}
	}
}

func FuzzCookieFile(f *testing.F) {
	f.Add("# Netscape HTTP Cookie File\n.a.example\tTRUE\t/\tFALSE\t0\tn\tv\n#HttpOnly_b.example\tFALSE\t/p\tTRUE\t4102444800\tm\t\n")
	f.Add("a\tFALSE\t/\tFALSE\t1\tx\ty\n")
	f.Fuzz(func(t *testing.T, s string) {
		jar := fetch.NewCookieJar()
		if err := jar.Load(strings.NewReader(s)); err != nil {
			return
		}
		var one, two bytes.Buffer
		jar.Save(&one)
		jar2 := fetch.NewCookieJar()
		if err := jar2.Load(bytes.NewReader(one.Bytes())); err != nil {
			t.Fatalf("saved jar does not load: %v\n%s", err, one.String())
		}
		jar2.Save(&two)
		if one.String() != two.String() {
			t.Fatalf("Save(Load(Save)) differs:\n%s\n%s", one.String(), two.String())
		}
	})
}

// TestTLSOptions: a server with a certificate no system trusts fails by
// default, and works with InsecureSkipVerify or with its CA in RootCAs.
func TestTLSOptions(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret") }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	var unknown x509.UnknownAuthorityError
	if _, err := newClient(t, fetch.Config{}).Get(t.Context(), srv.URL); !errors.As(err, &unknown) {
		t.Errorf("untrusted certificate accepted: %v", err)
	}
	if resp, err := newClient(t, fetch.Config{InsecureSkipVerify: true}).Get(t.Context(), srv.URL); err != nil || string(resp.Body) != "secret" {
		t.Errorf("InsecureSkipVerify: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	if resp, err := newClient(t, fetch.Config{RootCAs: pool}).Get(t.Context(), srv.URL); err != nil || string(resp.Body) != "secret" {
		t.Errorf("RootCAs: %v", err)
	}
}

// TestProxy sends an http request and an https one (by CONNECT) through a
// real forward proxy.
func TestProxy(t *testing.T) {
	plain := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain") })
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls") }))
	defer tlsSrv.Close()
	proxy := proxytest.New(t)
	pool := x509.NewCertPool()
	pool.AddCert(tlsSrv.Certificate())
	pu, _ := url.Parse(proxy.URL)
	c := newClient(t, fetch.Config{Proxy: pu, RootCAs: pool})
	resp, err := c.Get(t.Context(), plain.URL+"/p")
	if err != nil || string(resp.Body) != "plain" || resp.Header.Get("Via") != "1.1 proxytest" {
		t.Errorf("http through the proxy: %v %q %v", err, resp.Body, resp.Header)
	}
	if resp, err := c.Get(t.Context(), tlsSrv.URL+"/s"); err != nil || string(resp.Body) != "tls" {
		t.Errorf("https through the proxy: %v", err)
	}
	want := []string{"GET " + plain.URL + "/p", "CONNECT " + strings.TrimPrefix(tlsSrv.URL, "https://")}
	if got := proxy.Handled(); !slices.Equal(got, want) {
		t.Errorf("proxy handled %q, want %q", got, want)
	}
}

// TestLimitRate: LimitRate caps all bodies together: two 40 000-byte
// bodies at 40 000 bytes/s take at least a second (the first 40 000 come
// at once, from the bucket), where they take milliseconds without it.
func TestLimitRate(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		bw := bufio.NewWriter(w)
		bw.Write(bytes.Repeat([]byte("z"), 40_000))
		bw.Flush()
	})
	in := inputs(srv.URL+"/1", srv.URL+"/2")
	start := time.Now()
	got, err := runAll(t, t.Context(), fetch.Options{Config: fetch.Config{LimitRate: 40_000}}, in)
	elapsed := time.Since(start)
	if err != nil || got[srv.URL+"/1"].Bytes != 40_000 || got[srv.URL+"/2"].Bytes != 40_000 {
		t.Fatalf("%v %+v", err, got)
	}
	if elapsed < 900*time.Millisecond {
		t.Errorf("80 000 bytes at 40 000/s took %v", elapsed)
	}
}
