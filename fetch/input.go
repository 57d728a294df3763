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

// MaxURLLength is the longest URL accepted by default: 64 KiB, well past
// the signed and tracking URLs seen in practice. Options.MaxURLLength and
// CheckURL take another limit.
const MaxURLLength = 64 << 10

// ErrBadInput marks an input line that is not a usable URL.
var ErrBadInput = errors.New("bad input")

// Input is one URL to fetch, with the input line it came from (0 when it
// came from elsewhere) and, for a bad line, the reason it is unusable.
// SHA256, when set (lower-case hex), is the checksum the saved body must
// have; see ReadInputs for how an input line gives it.
type Input struct {
	Line   int
	URL    string
	SHA256 string
	Err    error // wraps ErrBadInput
}

// ParseURL checks that s is an absolute http(s) URL of at most
// MaxURLLength bytes.
func ParseURL(s string) (*url.URL, error) { return CheckURL(s, MaxURLLength) }

// CheckURL checks that s is an absolute http(s) URL with a host, of at
// most maxLen bytes (MaxURLLength when maxLen is 0; no limit when it is
// negative).
func CheckURL(s string, maxLen int) (*url.URL, error) {
	if maxLen == 0 {
		maxLen = MaxURLLength
	}
	if maxLen > 0 && len(s) > maxLen {
		return nil, fmt.Errorf("%w: URL longer than %d bytes", ErrBadInput, maxLen)
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
// is reported as bad input and skipped without being held in memory whole.
const MaxLineLength = 1 << 20

// ReadInputs yields the URLs in r, one per line; blank lines and lines
// starting with "#" are skipped, surrounding white space trimmed. A line may
// end with a checksum for the body, separated by white space:
//
//	https://example.com/file.iso sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//
// Bad lines, including URLs longer than MaxURLLength and lines longer than
// MaxLineLength, are yielded with Err set and reading goes on with the next
// line; a read error ends the sequence with an Input whose Err is that
// error. ReadInputs reads as the sequence is consumed: it never holds more
// than one line.
func ReadInputs(r io.Reader) iter.Seq[Input] { return ReadInputsLimit(r, MaxURLLength) }

// ReadInputsLimit is ReadInputs with another limit on URL length (see
// CheckURL); lines are read up to the larger of MaxLineLength and that limit.
func ReadInputsLimit(r io.Reader, maxURLLength int) iter.Seq[Input] {
	maxLine := max(MaxLineLength, maxURLLength+128) // room for a checksum
	return func(yield func(Input) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		var buf []byte
		for n := 1; ; n++ {
			var tooLong bool
			var err error
			buf, tooLong, err = readLine(br, buf[:0], maxLine)
			if err != nil && err != io.EOF {
				yield(Input{Line: n, Err: fmt.Errorf("read input: %w", err)})
				return
			}
			line := strings.TrimSpace(string(buf))
			switch {
			case line == "" || strings.HasPrefix(line, "#"):
			case tooLong:
				if !yield(Input{Line: n, Err: fmt.Errorf("%w: line longer than %d bytes, skipped", ErrBadInput, maxLine)}) {
					return
				}
			default:
				if !yield(parseLine(n, line, maxURLLength)) {
					return
				}
			}
			if err == io.EOF {
				return
			}
		}
	}
}

// parseLine parses one trimmed, non-empty input line: a URL and, after
// white space, an optional "sha256=HEX".
func parseLine(n int, line string, maxURLLength int) Input {
	in := Input{Line: n, URL: line}
	if i := strings.LastIndexAny(line, " \t"); i >= 0 {
		if sum, ok := strings.CutPrefix(line[i+1:], "sha256="); ok {
			in.URL = strings.TrimSpace(line[:i])
			if len(sum) != 64 || strings.Trim(strings.ToLower(sum), "0123456789abcdef") != "" {
				in.Err = fmt.Errorf("%w: sha256= wants 64 hex digits", ErrBadInput)
				return in
			}
			in.SHA256 = strings.ToLower(sum)
		}
	}
	if _, err := CheckURL(in.URL, maxURLLength); err != nil {
		in.Err = err
	}
	return in
}

// readLine appends the next line of br to buf, without its "\n", and
// returns it; err is io.EOF for the last line. Of a line longer than
// maxLine it keeps only the first maxLine bytes (enough to see a comment),
// reads past the rest and sets tooLong.
func readLine(br *bufio.Reader, buf []byte, maxLine int) (line []byte, tooLong bool, err error) {
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		chunk = bytes.TrimSuffix(chunk, []byte("\n"))
		n += len(chunk)
		if room := maxLine - len(buf); room > 0 {
			buf = append(buf, chunk[:min(room, len(chunk))]...)
		}
		if err != bufio.ErrBufferFull {
			return buf, n > maxLine, err
		}
	}
}
