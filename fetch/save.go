package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors of saving a download, for errors.Is.
var (
	// ErrPathConflict reports a URL whose file cannot be placed: with
	// LayoutTree, a file where a directory must go or the reverse (see
	// Layout.Path), or a path inside StateDir.
	ErrPathConflict = errors.New("path conflict")
	// ErrChecksum reports a body whose SHA-256 is not the one expected.
	ErrChecksum = errors.New("checksum mismatch")
)

// titleBytes is how much of an HTML body is kept for Title.
const titleBytes = 64 << 10

// file returns where rel is saved, as reported in Result.File.
func (rn *runner) file(rel string) string {
	return filepath.Join(rn.opts.Dir, filepath.FromSlash(rel))
}

func (rn *runner) fetchOne(ctx context.Context, j job) Result {
	start := time.Now()
	r := Result{URL: Redact(j.in.URL), Line: j.in.Line}
	var err error
	if rn.root == nil {
		err = rn.get(ctx, j.in, &r)
	} else {
		r.File = rn.file(j.rel)
		err = rn.save(ctx, j, &r)
	}
	r.ElapsedMS = time.Since(start).Milliseconds()
	r.Err = err
	if err != nil {
		r.File = "" // nothing complete was saved
	}
	return r
}

// respond copies what every result shows of a response.
func respond(r *Result, resp *Response) {
	r.Attempts, r.Status = resp.Attempts, resp.Status
	if resp.FinalURL != "" {
		r.FinalURL = Redact(resp.FinalURL)
	}
	if resp.Header != nil {
		r.ContentType = resp.Header.Get("Content-Type")
	}
}

// get fetches in without saving it: the body is hashed, its title read.
func (rn *runner) get(ctx context.Context, in Input, r *Result) error {
	resp, body, err := rn.client.Open(ctx, in.URL, nil)
	respond(r, resp)
	if body != nil {
		defer body.Close()
	}
	if err != nil {
		return err
	}
	sink := newBodySink()
	defer sink.free()
	n, err := rn.copyBody(sink, body)
	r.Bytes = n
	if err != nil {
		return fmt.Errorf("fetch %s: %w", r.URL, err)
	}
	return rn.finish(in, resp, sink, r)
}

// finish fills r from the body seen by sink and checks it against the
// checksums known for in.
func (rn *runner) finish(in Input, resp *Response, sink *bodySink, r *Result) error {
	r.SHA256 = hex.EncodeToString(sink.h.Sum(nil))
	if isHTML(r.ContentType, sink.prefix.Bytes()) {
		r.Title = Title(sink.prefix.Bytes(), r.ContentType)
	}
	return rn.verify(in, resp.Header, r)
}

// verify checks r.SHA256 against in's checksum and, with Verify, the
// server's digest.
func (rn *runner) verify(in Input, h http.Header, r *Result) error {
	check := func(want, from string) error {
		if want != r.SHA256 {
			return fmt.Errorf("fetch %s: %w: SHA-256 %s, %s says %s", r.URL, ErrChecksum, r.SHA256, from, want)
		}
		r.Verified = true
		return nil
	}
	if in.SHA256 != "" {
		if err := check(in.SHA256, "the input"); err != nil {
			return err
		}
	}
	if rn.opts.Verify && h != nil {
		if want, from := serverSHA256(h); want != "" {
			return check(want, "the server's "+from)
		}
	}
	return nil
}

// copyBody copies body into sink with a pooled buffer, counting progress.
func (rn *runner) copyBody(sink io.Writer, body io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(sink, progressReader{body, rn.opts.Progress}, *buf)
}

// mode is how save asks for a file.
type mode int

const (
	fresh  mode = iota // the whole body
	resume             // the rest of a part file, with Range
	check              // whether a complete file is current
)

// save downloads j into rel under Dir, resuming or checking per Continue
// (see Options.Continue). When an answer shows the part file or the
// complete file cannot be used, it starts over once with a plain request.
func (rn *runner) save(ctx context.Context, j job, r *Result) error {
	rel, part := j.rel, partPath(j.rel)
	if fi, err := rn.root.Lstat(rel); err == nil && fi.IsDir() {
		return rn.conflict(r, rel, "is a directory (of URLs below this one)")
	}
	if err := rn.root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		for d := path.Dir(rel); d != "."; d = path.Dir(d) {
			if fi, err := rn.root.Lstat(d); err == nil && fi.Mode().IsRegular() {
				return rn.conflict(r, d, "is a file (an earlier URL's), where this one needs a directory")
			}
		}
		return rn.saveError(r, err)
	}
	m, have := fresh, int64(0)
	rec, found := rn.state.get(rel)
	j.recorded = found
	if rn.opts.Continue {
		if fi, err := rn.root.Lstat(part); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			m, have = resume, fi.Size()
		} else if fi, err := rn.root.Lstat(rel); err == nil && fi.Mode().IsRegular() {
			m, have = check, fi.Size()
			rec = record{Total: -1}
			if f, err := rn.root.Open(rel); err == nil {
				v, _ := readValidators(f)
				f.Close()
				rec.ETag, rec.LastModified = v.ETag, v.LastModified
			}
		}
	}
	for try := 0; ; try++ {
		again, err := rn.try(ctx, &j, r, m, have, rec)
		if !again || try > 0 {
			return err
		}
		m, have, rec = fresh, 0, record{Total: -1}
		*r = Result{URL: r.URL, Line: r.Line, File: r.File}
	}
}

// try makes one request for j in mode m; again asks save to start over.
func (rn *runner) try(ctx context.Context, j *job, r *Result, m mode, have int64, rec record) (again bool, err error) {
	rel, part := j.rel, partPath(j.rel)
	header := http.Header{}
	switch m {
	case resume:
		header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		if v := cmpOr(rec.ETag, rec.LastModified); v != "" {
			header.Set("If-Range", v)
		}
	case check:
		switch {
		case rec.ETag != "":
			header.Set("If-None-Match", rec.ETag)
		case rec.LastModified != "":
			header.Set("If-Modified-Since", rec.LastModified)
		default:
			header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		}
	}
	resp, body, err := rn.client.Open(ctx, j.in.URL, header)
	respond(r, resp)
	if body != nil {
		defer body.Close()
	}
	status := resp.Status
	total := rangeTotal(resp.Header)

	switch {
	case m == check && status == http.StatusNotModified,
		m == check && status == http.StatusRequestedRangeNotSatisfiable && total == have,
		m == check && status == http.StatusOK && rn.sameAsKept(resp, rec, have):
		if again, err := rn.keep(j, r, rel); again || err != nil {
			return again, err
		}
		return false, nil
	case m == check && (status == http.StatusRequestedRangeNotSatisfiable || status == http.StatusPartialContent):
		return true, nil // the resource has another size now
	case m == resume && status == http.StatusRequestedRangeNotSatisfiable:
		if total == have && (rec.Total < 0 || rec.Total == have) {
			return rn.completePart(j, r, rel, part, resp, have)
		}
		return true, nil
	}
	if err != nil {
		return false, err
	}

	// A 206 must continue the part file exactly where it ends (at 0 when
	// no Range was asked for), and, for a resume, be of the resource the
	// part file holds; anything else would splice two pieces wrongly.
	var rng byteRange
	if status == http.StatusPartialContent {
		cr := resp.Header.Get("Content-Range")
		var ok bool
		rng, ok = parseContentRange(cr)
		switch {
		case m == resume && (!ok || rng.start != have || rng.total >= 0 && rec.Total >= 0 && rng.total != rec.Total):
			return true, nil
		case m != resume && (!ok || rng.start != 0):
			return false, fmt.Errorf("fetch %s: %w: asked for the whole body, got Content-Range %q", r.URL, ErrBadRange, cr)
		}
		size := rng.end + 1
		if rng.total >= 0 {
			size = rng.total
		}
		if limit := rn.client.Config().MaxBodySize; limit > 0 && size > limit {
			rn.discard(j, part)
			return false, fmt.Errorf("fetch %s: %w: %d bytes with the part file (Content-Range %q)", r.URL, ErrTooLarge, size, cr)
		}
	} else {
		have = 0 // a 200: the whole body, whatever was asked
	}
	return false, rn.receive(j, r, resp, body, have, rng, status == http.StatusPartialContent, rec)
}

// receive writes body into the part file from offset have and, when the
// resource is complete, moves it into place.
func (rn *runner) receive(j *job, r *Result, resp *Response, body io.Reader, have int64, rng byteRange, partial bool, old record) error {
	rel, part := j.rel, partPath(j.rel)
	sink := newBodySink()
	defer sink.free()
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	rec := record{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Total: -1}
	if have > 0 {
		if err := hashFile(rn.root, part, sink); err != nil {
			return rn.saveError(r, err)
		}
		flags = os.O_WRONLY | os.O_APPEND
		rec.ETag, rec.LastModified, rec.Total = old.ETag, old.LastModified, old.Total
		r.ResumedFrom = have
	}
	if partial && rng.total >= 0 {
		rec.Total = rng.total
	} else if cl := resp.Header.Get("Content-Length"); cl != "" && !partial {
		rec.Total, _ = strconv.ParseInt(cl, 10, 64)
	}
	// Truncate before recording the new validators: the other order, cut
	// between the two, would pair the new ETag with the old version's
	// bytes, and the next Continue would splice the two versions.
	f, err := rn.root.OpenFile(part, flags, 0o644)
	if err != nil {
		return rn.saveError(r, err)
	}
	defer f.Close()
	// A large download records what resuming it needs when it starts, in
	// case it is killed; a small one only if it stops short (below).
	record := func() {
		if !j.recorded {
			rn.state.put(rel, &rec)
			j.recorded = true
		}
	}
	if have == 0 && (rec.Total < 0 || rec.Total >= bigPart) {
		record()
	}
	var src io.Reader = body
	if partial {
		src = io.LimitReader(src, rng.end+1-have) // nothing past the range it claims
	}
	n, err := rn.copyBody(io.MultiWriter(f, sink), src)
	r.Bytes = have + n
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			f.Close()
			rn.discard(j, part)
		} else {
			record()
		}
		return fmt.Errorf("fetch %s: %w", r.URL, err)
	}
	if partial && (r.Bytes != rng.end+1 || rng.total >= 0 && r.Bytes != rng.total) {
		record()
		// What arrived is in place; the part file resumes from its new
		// end next time.
		of := "?"
		if rng.total >= 0 {
			of = strconv.FormatInt(rng.total, 10)
		}
		return fmt.Errorf("fetch %s: %w: incomplete, %d of %s bytes after Content-Range %q",
			r.URL, ErrBadRange, r.Bytes, of, resp.Header.Get("Content-Range"))
	}
	if err := f.Close(); err != nil {
		return rn.saveError(r, err)
	}
	return rn.commit(j, r, resp, sink, rec)
}

// completePart finishes a part file the server says is already whole (a
// 416 whose total is the part file's size).
func (rn *runner) completePart(j *job, r *Result, rel, part string, resp *Response, have int64) (bool, error) {
	sink := newBodySink()
	defer sink.free()
	if err := hashFile(rn.root, part, sink); err != nil {
		return false, rn.saveError(r, err)
	}
	r.Bytes, r.ResumedFrom, r.ContentType = have, have, "" // the 416's type is not the file's
	rec, _ := rn.state.get(rel)
	return false, rn.commit(j, r, resp, sink, rec)
}

// commit checks a complete part file's checksums and moves it into place.
func (rn *runner) commit(j *job, r *Result, resp *Response, sink *bodySink, rec record) error {
	rel, part := j.rel, partPath(j.rel)
	if err := rn.finish(j.in, resp, sink, r); err != nil {
		rn.discard(j, part)
		return err
	}
	if rec.ETag != "" || rec.LastModified != "" {
		if f, err := rn.root.Open(part); err == nil {
			writeValidators(f, validators{rec.ETag, rec.LastModified})
			f.Close()
		}
	}
	if err := rn.root.Rename(part, rel); err != nil {
		if fi, serr := rn.root.Lstat(rel); serr == nil && fi.IsDir() {
			return rn.conflict(r, rel, "is a directory (of URLs below this one)")
		}
		return rn.saveError(r, err)
	}
	if j.recorded {
		rn.state.put(rel, nil) // no longer a part
	}
	return nil
}

// keep reports the complete file at rel as current, after checking it
// against the input's checksum; again asks for a fresh download when the
// file does not match it.
func (rn *runner) keep(j *job, r *Result, rel string) (again bool, err error) {
	sink := newBodySink()
	defer sink.free()
	if err := hashFile(rn.root, rel, sink); err != nil {
		return false, rn.saveError(r, err)
	}
	r.Skipped, r.Bytes = true, sink.n
	r.SHA256 = hex.EncodeToString(sink.h.Sum(nil))
	if j.in.SHA256 != "" && j.in.SHA256 != r.SHA256 {
		return true, nil
	}
	r.Verified = j.in.SHA256 != ""
	if isHTML(r.ContentType, sink.prefix.Bytes()) {
		r.Title = Title(sink.prefix.Bytes(), r.ContentType)
	}
	return false, nil
}

// sameAsKept reports whether a 200 answer to a check shows the complete
// file of size have is current: the same validator as recorded, or with
// none recorded the same size; and in both cases the same Content-Length.
func (rn *runner) sameAsKept(resp *Response, rec record, have int64) bool {
	if resp.Header.Get("Content-Length") != strconv.FormatInt(have, 10) {
		return false
	}
	etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	switch {
	case rec.ETag != "":
		return etag == rec.ETag
	case rec.LastModified != "":
		return lm == rec.LastModified
	}
	return true
}

// discard removes a download that cannot be resumed.
func (rn *runner) discard(j *job, part string) {
	rn.root.Remove(part)
	if j.recorded {
		rn.state.put(j.rel, nil)
		j.recorded = false
	}
}

func (rn *runner) conflict(r *Result, rel, what string) error {
	return fmt.Errorf("fetch %s: %w: %s %s", r.URL, ErrPathConflict, rn.file(rel), what)
}

// saveError reports a failure to save under Dir; a symbolic link leading
// out of Dir shows as "path escapes from parent".
func (rn *runner) saveError(r *Result, err error) error {
	return fmt.Errorf("fetch %s: save under %s: %w", r.URL, rn.opts.Dir, err)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// rangeTotal returns the total size in a Content-Range header of either
// form ("bytes 0-9/100" or "bytes */100"), or -1.
func rangeTotal(h http.Header) int64 {
	v := h.Get("Content-Range")
	i := strings.LastIndexByte(v, '/')
	if !strings.HasPrefix(v, "bytes ") || i < 0 {
		return -1
	}
	n, err := strconv.ParseInt(v[i+1:], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
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

// isHTML reports whether a body of this Content-Type (sniffed from its
// first bytes when there is none) is HTML, whose title is worth reading.
func isHTML(contentType string, prefix []byte) bool {
	if contentType == "" {
		contentType = http.DetectContentType(prefix)
	}
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, "text/html") || strings.EqualFold(mt, "application/xhtml+xml")
}

// bodySink hashes a body and keeps its first titleBytes for Title. Sinks
// are recycled (newBodySink, free): a page's hash state and prefix buffer
// would otherwise be most of its garbage.
type bodySink struct {
	h      hash.Hash
	prefix bytes.Buffer
	n      int64
}

var sinks = sync.Pool{New: func() any { return &bodySink{h: sha256.New()} }}

func newBodySink() *bodySink { return sinks.Get().(*bodySink) }

// free returns s for reuse; nothing it holds may be used after.
func (s *bodySink) free() {
	s.h.Reset()
	s.prefix.Reset()
	s.n = 0
	sinks.Put(s)
}

func (s *bodySink) Write(b []byte) (int, error) {
	s.n += int64(len(b))
	s.h.Write(b)
	if room := titleBytes - s.prefix.Len(); room > 0 {
		s.prefix.Write(b[:min(room, len(b))])
	}
	return len(b), nil
}

func hashFile(root *os.Root, name string, sink *bodySink) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	_, err = io.CopyBuffer(sink, f, *buf)
	return err
}

// copyBufs recycles copy buffers: io.Copy would allocate 32 KiB per URL,
// which dominates the garbage of fetching many small pages.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

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
