package cli

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crewrun/crew/fetch"
)

type fetchOptions struct {
	input, output string
	jobs, perHost int
	rate          string
	timeout       seconds
	connect       seconds
	retries       int
	dir           string
	layout        fetch.Layout
	resume        bool
	verify        bool
	maxSize       string
	maxURLLength  string
	maxRedirects  int
	userAgent     string
	quiet         bool
	http          fetchHTTPOptions
}

func newFetchCommand(s Streams) *cobra.Command {
	o := fetchOptions{timeout: seconds(30 * time.Second), connect: seconds(10 * time.Second)}
	cmd := &cobra.Command{
		Use:   "fetch [flags] [URL...]",
		Short: "Download many URLs concurrently, politely and resumably",
		Long: `crew fetch downloads URLs concurrently and writes one JSON object per URL
(JSON Lines) with fields line (the input line number), url, final_url,
status, bytes, elapsed_ms, attempts, title, content_type, sha256, file,
error, and when they apply skipped, resumed_from, verified, duplicate and
duplicate_of. Each line is written whole, with one write, as soon as its URL
is done: tail -f and jq see progress, and a kill loses no finished line. At
the end a summary (ok, failed, skipped, duplicates, bytes, time) goes to
stderr; --quiet silences it, the progress bar and the per-URL messages.
Downloads cut short by an interruption get no line (they are not done).

URLs come from the arguments, from -i FILE, or from standard input when
neither is given: one per line, blank lines and # comments ignored. Input is
streamed: the first request goes out as soon as the first line is read, and
memory does not grow with the list. A line may end with the SHA-256 the body
must have ("URL sha256=HEX"); it is always checked. Bad lines (not an
absolute http(s) URL, or longer than --max-url-length) are reported on stderr
with their line number and as a JSON line with an error; the rest go on.

Network errors, 429 and 5xx responses are retried (--retries) with jittered
exponential backoff, honouring Retry-After; other 4xx are not. Redirects are
followed up to --max-redirects; a loop is an error. Timeouts take seconds
(5, 2.5) as curl does, or Go durations (500ms, 1m); --timeout 0 means none.

With --dir, bodies are saved under DIR. --layout flat (the default) names a
file DIR/HOST/NAME, NAME being the URL's path and query with every byte
outside [A-Za-z0-9._-] written as %XX, so distinct URLs never share a file
and no file is in the way of a directory. --layout tree is wget -x's:
DIR/HOST[:PORT]/PATH, with index.html for a URL ending in "/" and
"?QUERY" kept in the name; there "/a" and "/a/b" cannot both be saved (a
file cannot also be a directory), and the second fails, where wget deletes
the file. Nothing is ever written outside DIR, and a symbolic link in DIR
that leads out of it is not followed (that URL fails instead).

A URL saved to the same file as an earlier line (the same URL again, or
differing only in #fragment, http/https or host case) is not fetched again:
its line says "duplicate": true and "duplicate_of" the earlier line, and it
is not a failure (as wget -nc and aria2c). File names are remembered by
64-bit hashes in two generations of 262144: always the last 262144 to
524288 names, in at most 12 MiB; a duplicate of a name older than that is
fetched again and replaces the file.

A body is written under DIR/.crew-fetch/ and moved into place when whole,
so a file that exists is complete; DIR/.crew-fetch/ is the one place that
keeps what resuming needs (part files, their validators and sizes). --continue resumes and
checks; what it trusts:
  - a part file resumes with Range from its size. If the first response
    had an ETag or Last-Modified it is sent as If-Range, so a changed file
    comes back whole. Without one, the resume rests on size alone: the 206
    must start where the part ends and have the total size first announced
    (known unless a download under 1 MiB was killed outright), or the
    download starts over. Only a checksum proves the joined bytes:
    "URL sha256=HEX" in the input, or with --verify the server's
    Repr-Digest/Digest.
  - a complete file is kept if the server answers 304 to its ETag or
    Last-Modified (kept on the file in an extended attribute); without
    those (or extended attributes: Windows, some file systems), if the
    server's size equals the file's.
Without --continue, files already in DIR are replaced.

Credentials: --user, or --netrc/--netrc-file (as curl -n; wget reads
~/.netrc always), are sent as HTTP Basic auth, also on redirects within
the same host, never to another host. A password in a URL
(https://user:pw@host/) is used, shown as REDACTED in url, final_url and
errors, and never stored.

Proxies: --proxy URL (http://, https://, socks5://; user:pw@ for proxy
auth) applies to every URL. Without it the environment's HTTP_PROXY,
HTTPS_PROXY and NO_PROXY (or lower case) apply, except to loopback hosts
(localhost, 127.0.0.1, ::1), which are always reached directly.

Exit status: 0 all fetched (duplicates and kept files included), 1 some
failed, 2 usage, 130 interrupted (the JSON Lines written so far stay valid,
part files stay resumable).`,
		Example: `  crew fetch https://example.com/ https://go.dev/
  crew fetch -i urls.txt -o results.jsonl -j 64 --per-host 4 --rate 10
  crew fetch -i urls.txt --dir downloads --continue --max-size 100M
  crew fetch --dir mirror --layout tree https://example.com/a/ https://example.com/a/b.html
  tail -f results.jsonl | jq -r 'select(.error) | .url'    # failures, as they happen
  crew fetch -H 'Authorization: Bearer TOKEN' -H 'Accept: application/json' https://api.example.com/v1/x
  crew fetch --user alice:s3cret --cookie-jar jar.txt --cookie jar.txt https://intranet.example/
  crew fetch --proxy http://127.0.0.1:3128 --cacert corp-ca.pem --limit-rate 500K -i urls.txt
  echo 'https://example.com/x.iso sha256=<64 hex digits>' | crew fetch --dir iso --continue --verify`,
		RunE: func(cmd *cobra.Command, args []string) error {
			lessGC()
			return runFetch(cmd, s, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.input, "input", "i", "", "read URLs from `FILE` (- for stdin)")
	f.StringVarP(&o.output, "output", "o", "", "write JSON Lines to `FILE` (default stdout)")
	f.IntVarP(&o.jobs, "jobs", "j", 32, "URLs fetched at once")
	f.IntVar(&o.perHost, "per-host", 8, "requests at once to one host")
	f.StringVar(&o.rate, "rate", "", "requests per second to one host, e.g. 5 or 5/s (default unlimited)")
	f.Var(&o.timeout, "timeout", "limit for one request attempt, body included, in `seconds` or a duration; 0 for none")
	f.Var(&o.connect, "connect-timeout", "limit for connecting, in `seconds` or a duration")
	f.IntVar(&o.retries, "retries", 2, "retries after network errors, 429 and 5xx")
	f.StringVar(&o.dir, "dir", "", "save bodies under `DIR`")
	f.Var(&o.layout, "layout", "file names under --dir: flat (HOST/escaped-path) or tree (wget -x's HOST/PATH)")
	f.BoolVar(&o.resume, "continue", false, "resume part files and keep current complete ones (with --dir; see above for what is trusted)")
	f.BoolVar(&o.verify, "verify", false, "check bodies against the server's Repr-Digest/Digest SHA-256 when sent")
	f.StringVar(&o.maxSize, "max-size", "", "largest body accepted, e.g. 500K, 10M, 1G (default unlimited)")
	f.StringVar(&o.maxURLLength, "max-url-length", "64K", "longest URL accepted, in bytes (K, M suffixes)")
	f.IntVar(&o.maxRedirects, "max-redirects", 10, "longest redirect chain followed")
	f.StringVar(&o.userAgent, "user-agent", "crew-fetch/1", "User-Agent header")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar, no per-URL messages, no summary")
	o.http.addFlags(f)
	return cmd
}

func runFetch(cmd *cobra.Command, s Streams, o fetchOptions, args []string) error {
	opts, err := o.fetchOpts()
	if err != nil {
		return err
	}
	cleanup, err := o.http.apply(&opts.Config, s)
	if err != nil {
		return err
	}
	if len(args) > 0 && o.input != "" {
		return usagef("give URLs as arguments or with -i, not both")
	}
	var inputs iter.Seq[fetch.Input]
	total := -1     // unknown: the input is streamed
	where := "line" // of the input, in messages
	if len(args) > 0 {
		where, total = "argument", len(args)
		// Each argument is one URL, whatever it holds: not lines of a file.
		inputs = func(yield func(fetch.Input) bool) {
			for i, a := range args {
				if !yield(fetch.Input{Line: i + 1, URL: a}) {
					return
				}
			}
		}
	} else {
		var r io.Reader = s.In
		if o.input != "" && o.input != "-" {
			f, err := os.Open(o.input)
			if err != nil {
				return usagef("%v", err)
			}
			defer f.Close()
			r = f
		}
		inputs = fetch.ReadInputsLimit(r, opts.MaxURLLength)
	}

	out := s.Out
	if o.output != "" {
		f, err := os.Create(o.output)
		if err != nil {
			return usagef("%v", err)
		}
		defer f.Close()
		out = f
	}
	rep := newFetchReporter(s.Err, out, o.quiet, where, total)
	opts.Progress = rep.received
	st, err := fetch.Run(cmd.Context(), opts, inputs, func(r fetch.Result) error {
		return rep.result(r)
	})
	rep.finish(st, cmd.Context().Err() != nil)
	if cerr := cleanup(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if st.Failed > 0 {
		return fmt.Errorf("%d of %d URLs failed: %w", st.Failed, st.OK+st.Failed+st.Skipped+st.Duplicates, errQuiet)
	}
	return nil
}

// fetchOpts checks the flags that shape fetch.Options.
func (o *fetchOptions) fetchOpts() (fetch.Options, error) {
	var opts fetch.Options
	if o.jobs < 1 || o.perHost < 1 {
		return opts, usagef("-j and --per-host must be at least 1")
	}
	if o.retries < 0 {
		return opts, usagef("--retries must be ≥ 0")
	}
	if o.connect <= 0 {
		return opts, usagef("--connect-timeout must be more than 0")
	}
	if o.resume && o.dir == "" {
		return opts, usagef("--continue needs --dir")
	}
	rate, err := parseRate(o.rate)
	if err != nil {
		return opts, usagef("--rate: %v", err)
	}
	maxSize, err := parseSize(o.maxSize)
	if err != nil {
		return opts, usagef("--max-size: %v", err)
	}
	maxURL, err := parseSize(o.maxURLLength)
	if err != nil || maxURL > math.MaxInt32 {
		return opts, usagef("--max-url-length: want a positive size like 64K, got %q", o.maxURLLength)
	}
	maxRedirects := o.maxRedirects
	if maxRedirects == 0 {
		maxRedirects = -1 // Config's zero means the default
	}
	timeout := time.Duration(o.timeout)
	if timeout == 0 {
		timeout = math.MaxInt64 // none; Config's zero means the default
	}
	return fetch.Options{
		Config: fetch.Config{
			Timeout: timeout, ConnectTimeout: time.Duration(o.connect), Retries: o.retries,
			PerHost: o.perHost, Rate: rate, MaxBodySize: maxSize,
			MaxRedirects: maxRedirects, UserAgent: o.userAgent,
		},
		Concurrency:  o.jobs,
		MaxURLLength: int(maxURL),
		Dir:          o.dir,
		Layout:       o.layout,
		Continue:     o.resume,
		Verify:       o.verify,
	}, nil
}

// seconds is a duration flag that takes bare seconds, as curl's
// --max-time and --connect-timeout do ("5", "2.5"), or a Go duration.
type seconds time.Duration

func (d *seconds) String() string { return time.Duration(*d).String() }
func (d *seconds) Type() string   { return "seconds" }

func (d *seconds) Set(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || math.IsNaN(f) || f > math.MaxInt64/float64(time.Second) {
			return fmt.Errorf("want seconds ≥ 0, got %q", v)
		}
		*d = seconds(f * float64(time.Second))
		return nil
	}
	t, err := time.ParseDuration(v)
	if err != nil || t < 0 {
		return errors.New("want seconds (5, 2.5) or a duration (500ms, 1m30s) ≥ 0, got " + strconv.Quote(v))
	}
	*d = seconds(t)
	return nil
}

// parseRate accepts "5", "5/s", "0.5/s" or "300/m".
func parseRate(v string) (float64, error) {
	if v == "" {
		return 0, nil
	}
	per := 1.0
	if num, unit, ok := strings.Cut(v, "/"); ok {
		switch unit {
		case "s":
		case "m", "min":
			per = 60
		case "h":
			per = 3600
		default:
			return 0, fmt.Errorf("unknown unit %q (want /s, /m or /h)", unit)
		}
		v = num
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || !(r > 0) || math.IsInf(r, 0) { // NaN is not > 0
		return 0, fmt.Errorf("want a positive number, got %q", v)
	}
	return r / per, nil
}

// lessGC lets the heap grow to five times the live data before a
// collection (GOGC=400) unless GOGC is set: fetching allocates a few small
// buffers per page on a small live heap, so the default collects every few
// hundred pages. Measured (docs/benchmarks.md, crew fetch): 17% less CPU
// and 14% less time for 5000 pages at latency 0. A soft memory limit of
// 40 MiB (unless GOMEMLIMIT is set) collects sooner when the live heap is
// large (--dir's duplicate detection holds up to 12 MiB), so that five
// times it does not become the peak.
func lessGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(40 << 20)
	}
}
