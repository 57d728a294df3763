package fetch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strings"
)

// MaxURLLength is the longest URL accepted from input.
const MaxURLLength = 8192

// ErrBadInput marks an input line that is not a usable URL.
var ErrBadInput = errors.New("bad input")

// ErrDuplicate marks an input that Run did not fetch because an earlier
// input is saved to the same file (see Options.Dir). It comes wrapped
// together with ErrBadInput.
var ErrDuplicate = errors.New("duplicate of an earlier input")

// Input is one URL to fetch, with the input line it came from (0 when it
// came from elsewhere) and, for a bad line, the reason it is unusable.
type Input struct {
	Line int
	URL  string
	Err  error // wraps ErrBadInput
}

// ParseURL checks that s is an absolute http(s) URL of acceptable length.
func ParseURL(s string) (*url.URL, error) {
	if len(s) > MaxURLLength {
		return nil, fmt.Errorf("%w: URL longer than %d bytes", ErrBadInput, MaxURLLength)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, unwrapURLError(err))
	}
	if !u.IsAbs() {
		return nil, fmt.Errorf("%w: not an absolute URL", ErrBadInput)
	}
	if err := checkScheme(u); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	return u, nil
}

// MaxLineLength is the longest input line ReadInputs reads. A longer line
// cannot be a usable URL (see MaxURLLength); it is reported as bad input
// and skipped without being held in memory whole.
const MaxLineLength = 1 << 20

// ReadInputs yields the URLs in r, one per line; blank lines and lines
// starting with "#" are skipped, surrounding white space trimmed. Bad lines,
// including lines longer than MaxLineLength, are yielded with Err set and
// reading goes on with the next line; a read error ends the sequence with an
// Input whose Err is that error.
func ReadInputs(r io.Reader) iter.Seq[Input] {
	return func(yield func(Input) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		var buf []byte
		for n := 1; ; n++ {
			var tooLong bool
			var err error
			buf, tooLong, err = readLine(br, buf[:0])
			if err != nil && err != io.EOF {
				yield(Input{Line: n, Err: fmt.Errorf("read input: %w", err)})
				return
			}
			line := strings.TrimSpace(string(buf))
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case tooLong:
				if !yield(Input{Line: n, Err: fmt.Errorf("%w: line longer than %d bytes, skipped", ErrBadInput, MaxLineLength)}) {
					return
				}
			default:
				in := Input{Line: n, URL: line}
				if _, perr := ParseURL(line); perr != nil {
					in.Err = perr
				}
				if !yield(in) {
					return
				}
			}
			if err == io.EOF {
				return
			}
		}
	}
}

// readLine appends the next line of br to buf, without its "\n", and
// returns it; err is io.EOF for the last line. Of a line longer than
// MaxLineLength it keeps only the first MaxLineLength bytes (enough to see
// a comment), reads past the rest and sets tooLong.
func readLine(br *bufio.Reader, buf []byte) (line []byte, tooLong bool, err error) {
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		n += len(chunk)
		if room := MaxLineLength - len(buf); room > 0 {
			buf = append(buf, chunk[:min(room, len(chunk))]...)
		}
		if err != bufio.ErrBufferFull {
			return buf, n > MaxLineLength, err
		}
	}
}
