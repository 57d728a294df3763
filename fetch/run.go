package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// titleBytes is how much of an HTML body is kept for Title.
const titleBytes = 64 << 10

// Options configures Run.
type Options struct {
	Config // the HTTP client's settings

	// Concurrency is the number of URLs fetched at once. Default 32.
	Concurrency int
	// Dir, if set, is where bodies are saved, under FileName(url). A body is
	// written to NAME%part and renamed to NAME when complete; NAME%meta keeps
	// its ETag and Last-Modified for resuming. All file work happens through
	// an os.Root on Dir, so a symbolic link inside Dir that points out of it
	// (as HOST, NAME or NAME%part) fails that URL instead of being followed.
	// An input saved to the same file as an earlier one (the same URL
	// again, or one differing only in fragment, scheme or host case) is not
	// fetched again but reported as failed with ErrDuplicate.
	Dir string
	// Continue resumes NAME%part files with a Range request (guarded by
	// If-Range, so only when the server gave an ETag or Last-Modified) and skips
	// complete files the server reports unchanged (ETag / Last-Modified, or
	// an equal Content-Length). A 206 answer must continue the part file
	// where it ends (by its Content-Range) and reach the end of the
	// resource, or the URL fails with ErrBadRange and nothing is marked
	// complete; a 200 answer starts over.
	Continue bool
	// Progress, if set, is called (from several goroutines) with the bytes
	// of body received since its last call.
	Progress func(bytes int64)
}

// Result is the outcome of fetching one URL, as written in JSON Lines.
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
	Skipped     bool   `json:"skipped,omitempty"` // complete file kept (Continue)
	Line        int    `json:"line,omitempty"`    // input line, when known

	Err error `json:"-"`
}

// Stats counts Run's outcomes.
type Stats struct {
	OK, Failed int
	Bytes      int64
}

// Run fetches the URLs from inputs with opts.Concurrency workers and calls
// emit with each result, one call at a time, in completion order. Bad
// inputs, and with Dir duplicates, are emitted as failed results without a
// request. Run returns when all inputs are done, emit returns an error, or
// ctx is cancelled (in which case in-flight downloads stop, their partial
// files stay resumable, and ctx's error is returned).
func Run(ctx context.Context, opts Options, inputs iter.Seq[Input], emit func(Result) error) (Stats, error) {
	var st Stats
	if opts.Concurrency < 0 {
		return st, errors.New("fetch: negative concurrency")
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 32
	}
	client, err := NewClient(opts.Config)
	if err != nil {
		return st, err
	}
	defer client.CloseIdleConnections()
	var root *os.Root
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return st, fmt.Errorf("fetch: %w", err)
		}
		if root, err = os.OpenRoot(opts.Dir); err != nil {
			return st, fmt.Errorf("fetch: %w", err)
		}
		defer root.Close()
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
		if r.Err != nil {
			r.Error = r.Err.Error()
			st.Failed++
		} else {
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

	work := make(chan Input)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Go(func() {
			for in := range work {
				report(fetchOne(ctx, client, root, &opts, in))
			}
		})
	}
	// With Dir, each file has one download: two at once would write the
	// same part file.
	var first map[string]Input // file name → the input that saves to it
	if root != nil {
		first = map[string]Input{}
	}
feed:
	for in := range inputs {
		if in.Err != nil {
			report(Result{URL: in.URL, Line: in.Line, Err: in.Err})
			continue
		}
		if first != nil {
			if err := claimFile(first, in); err != nil {
				report(Result{URL: in.URL, Line: in.Line, Err: err})
				continue
			}
		}
		select {
		case work <- in:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if emitErr != nil {
		return st, emitErr
	}
	return st, ctx.Err()
}

// claimFile records in first which input saves to in's file, or returns an
// error wrapping ErrDuplicate if an earlier input already does. An
// unparsable URL is left for download to report.
func claimFile(first map[string]Input, in Input) error {
	u, err := ParseURL(in.URL)
	if err != nil {
		return nil
	}
	name := FileName(u)
	prev, dup := first[name]
	if !dup {
		first[name] = Input{Line: in.Line, URL: in.URL}
		return nil
	}
	where := prev.URL
	if prev.Line > 0 {
		where = fmt.Sprintf("line %d (%s)", prev.Line, prev.URL)
	}
	return fmt.Errorf("%w: %w: saved to the same file as %s", ErrBadInput, ErrDuplicate, where)
}

func fetchOne(ctx context.Context, c *Client, root *os.Root, opts *Options, in Input) Result {
	start := time.Now()
	r := Result{URL: in.URL, Line: in.Line}
	err := download(ctx, c, root, opts, in.URL, &r)
	r.ElapsedMS = time.Since(start).Milliseconds()
	r.Err = err
	if err != nil {
		r.File = "" // nothing complete was saved
	}
	return r
}

// meta is what NAME%meta records about a download, to resume it or to
// recognise it as complete.
type meta struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	Size         int64  `json:"size"` // expected total size, -1 unknown
	Complete     bool   `json:"complete"`
}

// download fetches rawURL into r and, when root is not nil, saves it under
// root (opened on opts.Dir). Paths below are relative to root.
func download(ctx context.Context, c *Client, root *os.Root, opts *Options, rawURL string, r *Result) error {
	var final, part, metaPath string
	var old meta
	var have int64 // bytes already in the part file
	header := http.Header{}
	if root != nil {
		u, err := ParseURL(rawURL)
		if err != nil {
			return err
		}
		final = FileName(u)
		part, metaPath = final+"%part", final+"%meta"
		r.File = filepath.Join(opts.Dir, final)
		if err := root.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return saveError(rawURL, opts.Dir, err)
		}
		if opts.Continue {
			if b, err := root.ReadFile(metaPath); err == nil {
				_ = json.Unmarshal(b, &old)
			}
			if _, err := root.Stat(final); err == nil && old.Complete {
				have = -1 // complete: ask whether it changed
				setValidators(header, old, "If-None-Match", "If-Modified-Since")
			} else if fi, err := root.Stat(part); err == nil && fi.Size() > 0 && (old.ETag != "" || old.LastModified != "") {
				have = fi.Size()
				header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
				setValidators(header, old, "If-Range", "If-Range")
			}
		}
	}
	resp, body, err := c.Open(ctx, rawURL, header)
	r.Attempts, r.Status, r.FinalURL = resp.Attempts, resp.Status, resp.FinalURL
	if body != nil {
		defer body.Close()
	}
	if resp.Header != nil {
		r.ContentType = resp.Header.Get("Content-Type")
	}
	if have == -1 {
		if skip, serr := unchanged(root, resp, old, final); serr == nil && skip {
			r.Skipped = true
			r.Bytes, r.SHA256, r.Title, serr = describeFile(root, final, r.ContentType)
			return serr
		}
		have = 0
	}
	if err != nil {
		var se *StatusError
		if have > 0 && errors.As(err, &se) && se.Code == http.StatusRequestedRangeNotSatisfiable {
			// Part file no longer matches; start over next time.
			root.Remove(part)
		}
		return err
	}

	// A 206 must continue the part file exactly where it ends (at 0 when
	// no Range was asked for); anything else would splice two pieces of
	// the resource wrongly. Any other answer, such as a 200 from a server
	// that ignores Range, starts over from byte 0.
	partial := resp.Status == http.StatusPartialContent
	var rng byteRange
	if partial {
		cr := resp.Header.Get("Content-Range")
		var ok bool
		if rng, ok = parseContentRange(cr); !ok || rng.start != have {
			return fmt.Errorf("fetch %s: %w: asked for the bytes from %d, got Content-Range %q", rawURL, ErrBadRange, have, cr)
		}
		// MaxBodySize caps the file, the bytes already on disk included.
		size := rng.end + 1
		if rng.total >= 0 {
			size = rng.total
		}
		if limit := c.Config().MaxBodySize; limit > 0 && size > limit {
			if root != nil {
				root.Remove(part)
				root.Remove(metaPath)
			}
			return fmt.Errorf("fetch %s: %w: %d bytes with the part file (Content-Range %q)", rawURL, ErrTooLarge, size, cr)
		}
	} else {
		have = 0
	}

	h := sha256.New()
	tb := &prefixBuffer{max: titleBytes}
	var sink io.Writer = io.MultiWriter(h, tb)
	var f *os.File
	if root != nil {
		m := meta{URL: rawURL, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Size: -1}
		flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if have > 0 {
			if err := hashFile(root, part, h, tb); err != nil {
				return saveError(rawURL, opts.Dir, err)
			}
			flags = os.O_WRONLY | os.O_APPEND
			m.ETag, m.LastModified = old.ETag, old.LastModified
		}
		if partial {
			m.Size = rng.total
		} else if cl := resp.Header.Get("Content-Length"); cl != "" {
			m.Size, _ = strconv.ParseInt(cl, 10, 64)
		}
		// Truncate before recording the new validators: the other order,
		// cut between the two (kill, or an open failing for lack of file
		// descriptors), pairs the new ETag with the old version's bytes,
		// and the next --continue would splice the two versions together.
		f, err = root.OpenFile(part, flags, 0o644)
		if err != nil {
			return saveError(rawURL, opts.Dir, err)
		}
		defer f.Close()
		if err := writeMeta(root, metaPath, m); err != nil {
			return saveError(rawURL, opts.Dir, err)
		}
		sink = io.MultiWriter(f, h, tb)
	}
	var src io.Reader = progressReader{body, opts.Progress}
	if partial {
		src = io.LimitReader(src, rng.end+1-have) // nothing past the range it claims
	}
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(sink, src, *buf)
	copyBufs.Put(buf)
	r.Bytes = have + n
	if err != nil {
		if errors.Is(err, ErrTooLarge) && part != "" {
			f.Close()
			root.Remove(part)
			root.Remove(metaPath)
		}
		return fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	if partial && (r.Bytes != rng.end+1 || rng.total >= 0 && r.Bytes != rng.total) {
		// What arrived is in place; the part file (kept, not renamed)
		// resumes from its new end next time.
		of := "?"
		if rng.total >= 0 {
			of = strconv.FormatInt(rng.total, 10)
		}
		return fmt.Errorf("fetch %s: %w: incomplete, %d of %s bytes after Content-Range %q",
			rawURL, ErrBadRange, r.Bytes, of, resp.Header.Get("Content-Range"))
	}
	r.SHA256 = hex.EncodeToString(h.Sum(nil))
	if isHTML(r.ContentType, tb.Bytes()) {
		r.Title = Title(tb.Bytes(), r.ContentType)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return saveError(rawURL, opts.Dir, err)
		}
		if err := root.Rename(part, final); err != nil {
			return saveError(rawURL, opts.Dir, err)
		}
		m := meta{URL: rawURL, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Size: r.Bytes, Complete: true}
		if have > 0 {
			m.ETag, m.LastModified = old.ETag, old.LastModified
		}
		if err := writeMeta(root, metaPath, m); err != nil {
			return saveError(rawURL, opts.Dir, err)
		}
	}
	return nil
}

// saveError reports a failure to save rawURL's body under dir; a symbolic
// link leading out of dir shows as "path escapes from parent".
func saveError(rawURL, dir string, err error) error {
	return fmt.Errorf("fetch %s: save under %s: %w", rawURL, dir, err)
}

func setValidators(h http.Header, m meta, etagHeader, dateHeader string) {
	if m.ETag != "" {
		h.Set(etagHeader, m.ETag)
	} else if m.LastModified != "" {
		h.Set(dateHeader, m.LastModified)
	}
}

// unchanged reports whether a response to a conditional request shows the
// complete file at path is still current.
func unchanged(root *os.Root, resp *Response, old meta, path string) (bool, error) {
	if resp.Status == http.StatusNotModified {
		return true, nil
	}
	if resp.Status != http.StatusOK {
		return false, nil
	}
	fi, err := root.Stat(path)
	if err != nil {
		return false, err
	}
	etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	same := (etag != "" && etag == old.ETag) || (etag == "" && lm != "" && lm == old.LastModified)
	return same && resp.Header.Get("Content-Length") == strconv.FormatInt(fi.Size(), 10), nil
}

func describeFile(root *os.Root, path, contentType string) (n int64, sum, title string, err error) {
	h := sha256.New()
	tb := &prefixBuffer{max: titleBytes}
	if err := hashFile(root, path, h, tb); err != nil {
		return 0, "", "", err
	}
	if isHTML(contentType, tb.Bytes()) {
		title = Title(tb.Bytes(), contentType)
	}
	return tb.n, hex.EncodeToString(h.Sum(nil)), title, nil
}

func hashFile(root *os.Root, path string, h hash.Hash, tb *prefixBuffer) error {
	f, err := root.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.MultiWriter(h, tb), f)
	return err
}

// writeMeta replaces the meta file at path atomically.
func writeMeta(root *os.Root, path string, m meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := path + "%tmp"
	if err := root.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return root.Rename(tmp, path)
}

// byteRange is a 206 response's Content-Range: bytes start to end
// inclusive, of total (-1 when the server gives "*").
type byteRange struct{ start, end, total int64 }

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*"),
// reporting false for anything else, including an unsatisfied range
// ("bytes */TOTAL") and an end at or past the total.
func parseContentRange(v string) (byteRange, bool) {
	bad := byteRange{total: -1}
	spec, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return bad, false
	}
	span, total, ok := strings.Cut(spec, "/")
	first, last, ok2 := strings.Cut(span, "-")
	if !ok || !ok2 {
		return bad, false
	}
	r := byteRange{total: -1}
	var err1, err2 error
	r.start, err1 = strconv.ParseInt(first, 10, 64)
	r.end, err2 = strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || r.start < 0 || r.end < r.start {
		return bad, false
	}
	if total != "*" {
		n, err := strconv.ParseInt(total, 10, 64)
		if err != nil || r.end >= n {
			return bad, false
		}
		r.total = n
	}
	return r, true
}

func isHTML(contentType string, prefix []byte) bool {
	if contentType == "" {
		contentType = http.DetectContentType(prefix)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}

// copyBufs recycles copy buffers: io.Copy would allocate 32 KiB per URL,
// which dominates the garbage of fetching many small pages.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// prefixBuffer keeps the first max bytes written to it and counts all.
type prefixBuffer struct {
	bytes.Buffer
	max int
	n   int64
}

func (p *prefixBuffer) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if room := p.max - p.Buffer.Len(); room > 0 {
		p.Buffer.Write(b[:min(room, len(b))])
	}
	return len(b), nil
}

type progressReader struct {
	r  io.Reader
	fn func(int64)
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 && p.fn != nil {
		p.fn(int64(n))
	}
	return n, err
}
