package fetch

import (
	"bufio"
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

// ReadInputs yields the URLs in r, one per line; blank lines and lines
// starting with "#" are skipped, surrounding white space trimmed. Bad lines
// are yielded with Err set; a read error ends the sequence with an Input
// whose Err is that error.
func ReadInputs(r io.Reader) iter.Seq[Input] {
	return func(yield func(Input) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		n := 0
		for sc.Scan() {
			n++
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			in := Input{Line: n, URL: line}
			if _, err := ParseURL(line); err != nil {
				in.Err = err
			}
			if !yield(in) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Input{Line: n + 1, Err: fmt.Errorf("read input: %w", err)})
		}
	}
}
