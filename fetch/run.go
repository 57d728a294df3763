package fetch

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"strings"
	"sync"
)

// Options configures Run.
type Options struct {
	Config // the HTTP client's settings

	// Concurrency is the number of URLs fetched at once. Default 32.
	Concurrency int
	// MaxURLLength is the longest URL fetched (see CheckURL): 0 means
	// MaxURLLength, negative means no limit. Longer inputs fail as bad
	// input.
	MaxURLLength int

	// Dir, if set, is where bodies are saved, at Layout.Path(url). All
	// file work happens through an os.Root on Dir, so a symbolic link
	// inside Dir that points out of it fails that URL instead of being
	// followed. A body is written under StateDir and moved into place when
	// complete, so a file that exists is whole.
	//
	// An input saved to the same file as an earlier one (the same URL
	// again, or one differing only in fragment, scheme, host case or, with
	// LayoutTree, a path that decodes alike) is not fetched again: it is
	// reported with Duplicate set and DuplicateOf naming the earlier
	// input's line. Run remembers the last 262 144 to 524 288 file names
	// (in 12 MiB at most); a duplicate of a name forgotten by then is
	// downloaded again and replaces the file, as the first download would.
	//
	// Without Continue, a file already in Dir is replaced.
	Dir string
	// Layout is how URLs map to files under Dir. Default LayoutFlat.
	Layout Layout
	// Continue resumes downloads and skips complete files that are still
	// current. What is trusted:
	//
	//   - A part file resumes with a Range request from its size. When the
	//     first response had an ETag or Last-Modified, it goes in If-Range,
	//     so a changed resource comes back whole and the download starts
	//     over. Without one, the resume is trusted on size alone: the 206
	//     must start where the part file ends, and its Content-Range total
	//     must equal the size the first response announced (when known:
	//     always, unless a download under 1 MiB was killed outright);
	//     otherwise the download starts over. Only a checksum (Input.SHA256,
	//     or the server's digest with Verify) proves the joined bytes.
	//   - A complete file is kept when the server answers 304 to
	//     If-None-Match (its ETag) or If-Modified-Since (its Last-Modified),
	//     which Run keeps on the file in an extended attribute; without
	//     them (a server that sent none, a file system or OS without
	//     extended attributes, a file from elsewhere), when the server's
	//     size equals the file's (a 416 to a Range from the file's end, with
	//     that total, or a 200 with that Content-Length). Otherwise it is
	//     downloaded again.
	Continue bool
	// Verify checks each body against the SHA-256 digest the server sends
	// (Repr-Digest, RFC 9530, or Digest, RFC 3230) when it sends one; a
	// checksum given with the input (Input.SHA256) is checked always. A
	// mismatch fails the URL and discards the download.
	Verify bool
	// Progress, if set, is called (from several goroutines) with the bytes
	// of body received since its last call.
	Progress func(bytes int64)
}

// Result is the outcome of fetching one URL, as written in JSON Lines.
// URL and FinalURL have any credentials redacted (see Redact).
type Result struct {
	URL         string `json:"url"`
	FinalURL    string `json:"final_url,omitempty"`
	Status      int    `json:"status,omitempty"`
	Bytes       int64  `json:"bytes"`
	ElapsedMS   int64  `json:"elapsed_ms"`
	Attempts    int    `json:"attempts"`
	Title       string `json:"title,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	File        string `json:"file,omitempty"`
	Error       string `json:"error,omitempty"`
	Skipped     bool   `json:"skipped,omitempty"`      // complete file kept (Continue)
	ResumedFrom int64  `json:"resumed_from,omitempty"` // bytes already on disk, when resumed
	Verified    bool   `json:"verified,omitempty"`     // a checksum was checked and matched
	Duplicate   bool   `json:"duplicate,omitempty"`    // same file as an earlier input; not fetched
	DuplicateOf int    `json:"duplicate_of,omitempty"` // that input's line
	Line        int    `json:"line,omitempty"`         // input line, when known

	Err error `json:"-"`
}

// Stats counts Run's outcomes; each result is counted once: OK
// (downloaded), Skipped (kept, with Continue), Duplicates, or Failed (bad
// inputs included). Interrupted counts the downloads a cancellation cut
// short, which are not results. Bytes is the size of every body fetched or
// kept.
type Stats struct {
	OK, Failed, Skipped, Duplicates, Interrupted int
	Bytes                                        int64
}

// Run fetches the URLs from inputs with opts.Concurrency workers and calls
// emit with each result, one call at a time, in completion order. It pulls
// inputs as workers free up, so the first request goes out as soon as the
// first input arrives and memory does not grow with the number of inputs.
// Bad inputs are emitted as failed results without a request, duplicates
// (with Dir) as duplicates. Run returns when all inputs are done, emit
// returns an error, or ctx is cancelled (in which case in-flight downloads
// stop, are not emitted since their outcome is unknown, their part files
// stay resumable, and ctx's error is returned).
func Run(ctx context.Context, opts Options, inputs iter.Seq[Input], emit func(Result) error) (Stats, error) {
	var st Stats
	if opts.Concurrency < 0 {
		return st, errors.New("fetch: negative concurrency")
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 32
	}
	if opts.Layout.String() != "flat" && opts.Layout.String() != "tree" {
		return st, fmt.Errorf("fetch: unknown %v", opts.Layout)
	}
	client, err := NewClient(opts.Config)
	if err != nil {
		return st, err
	}
	defer client.CloseIdleConnections()
	rn := &runner{opts: &opts, client: client}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return st, fmt.Errorf("fetch: %w", err)
		}
		if rn.root, err = os.OpenRoot(opts.Dir); err != nil {
			return st, fmt.Errorf("fetch: %w", err)
		}
		defer rn.root.Close()
		if rn.state, err = openState(rn.root, opts.Dir); err != nil {
			return st, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu      sync.Mutex
		emitErr error
	)
	report := func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Err != nil && ctx.Err() != nil && errors.Is(r.Err, context.Canceled):
			st.Interrupted++
			return
		case r.Err != nil:
			r.Error = r.Err.Error()
			st.Failed++
		case r.Duplicate:
			st.Duplicates++
		case r.Skipped:
			st.Skipped++
		default:
			st.OK++
		}
		st.Bytes += r.Bytes
		if emitErr != nil {
			return
		}
		if err := emit(r); err != nil {
			emitErr = err
			cancel()
		}
	}

	work := make(chan job)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Go(func() {
			for j := range work {
				report(rn.fetchOne(ctx, j))
			}
		})
	}
	var seen *seenFiles
	if rn.root != nil {
		seen = newSeenFiles()
	}
feed:
	for in := range inputs {
		j, bad := rn.prepare(in, seen)
		if bad != nil {
			report(*bad)
			continue
		}
		select {
		case work <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if rn.state != nil {
		if err := rn.state.close(); err != nil && emitErr == nil && ctx.Err() == nil {
			return st, err
		}
	}
	if emitErr != nil {
		return st, emitErr
	}
	return st, ctx.Err()
}

// runner holds what every download of one Run shares.
type runner struct {
	opts   *Options
	client *Client
	root   *os.Root // on Dir; nil without
	state  *state   // Dir's resume state; nil without
}

// job is an input checked and ready to fetch: with Dir, rel is where it
// is saved.
type job struct {
	in       Input
	rel      string
	recorded bool // state.db holds a record for rel
}

// prepare checks in and, with Dir, claims its file; it returns the result
// to report instead when in is bad or a duplicate.
func (rn *runner) prepare(in Input, seen *seenFiles) (job, *Result) {
	fail := func(err error) (job, *Result) {
		return job{}, &Result{URL: Redact(in.URL), Line: in.Line, Err: err}
	}
	if in.Err != nil {
		return fail(in.Err)
	}
	u, err := CheckURL(in.URL, rn.opts.MaxURLLength)
	if err != nil {
		return fail(err)
	}
	if rn.root == nil {
		return job{in: in}, nil
	}
	rel, err := rn.opts.Layout.Path(u)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrBadInput, err))
	}
	if first, _, _ := strings.Cut(rel, "/"); first == StateDir {
		return fail(fmt.Errorf("fetch %s: %w: its file would be %s, where crew keeps its state", Redact(in.URL), ErrPathConflict, rel))
	}
	if prev, dup := seen.claim(rel, in.Line); dup {
		return job{}, &Result{URL: Redact(in.URL), Line: in.Line, Duplicate: true, DuplicateOf: prev}
	}
	return job{in: in, rel: rel}, nil
}
