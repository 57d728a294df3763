package fetch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Netrc holds the credentials of a .netrc file (curl --netrc, wget, ftp):
//
//	machine example.com login alice password s3cret
//	default login anonymous password guest
//
// Tokens are separated by white space (line breaks included); a token may
// be written in double quotes, with \" \\ \n \t \r escapes, as curl reads
// them; a line whose first character is "#" is a comment; "account" values
// are ignored, and a "macdef" runs to the next blank line and is skipped. Lookup matches the host name only (not the port), as
// curl does.
type Netrc struct {
	machines []netrcEntry
	def      *netrcEntry
}

type netrcEntry struct {
	machine, login, password string
}

// Lookup returns the login and password for host: those of the first
// "machine" entry with that name (letter case ignored), else those of
// "default"; ok is false when neither applies.
func (n *Netrc) Lookup(host string) (login, password string, ok bool) {
	if n == nil {
		return "", "", false
	}
	for _, e := range n.machines {
		if strings.EqualFold(e.machine, host) {
			return e.login, e.password, true
		}
	}
	if n.def != nil {
		return n.def.login, n.def.password, true
	}
	return "", "", false
}

// DefaultNetrcPath is where curl and wget look for the file: $NETRC when
// set, else ~/.netrc (~/_netrc on Windows, when it exists).
func DefaultNetrcPath() (string, error) {
	if p := os.Getenv("NETRC"); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(home, ".netrc")
	if runtime.GOOS == "windows" {
		if _, err := os.Stat(p); err != nil {
			p = filepath.Join(home, "_netrc")
		}
	}
	return p, nil
}

// ReadNetrc reads and parses the .netrc file at path.
func ReadNetrc(path string) (*Netrc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := ParseNetrc(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// ParseNetrc parses a .netrc file (see Netrc). An error names the line.
func ParseNetrc(r io.Reader) (*Netrc, error) {
	sc := netrcScanner{br: bufio.NewReader(r), line: 1, bol: true}
	n := &Netrc{}
	var cur *netrcEntry
	finish := func() {
		if cur != nil && cur.machine != "" {
			n.machines = append(n.machines, *cur)
		}
		cur = nil
	}
	for {
		tok, line, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		value := func() (string, error) {
			v, _, err := sc.next()
			if err == io.EOF {
				return "", fmt.Errorf("line %d: %q without a value", line, tok)
			}
			return v, err
		}
		switch tok {
		case "machine":
			finish()
			name, err := value()
			if err != nil {
				return nil, err
			}
			cur = &netrcEntry{machine: name}
		case "default":
			finish()
			if n.def != nil {
				return nil, fmt.Errorf("line %d: a second \"default\"", line)
			}
			n.def = &netrcEntry{}
			cur = n.def
		case "login", "password", "account":
			v, err := value()
			if err != nil {
				return nil, err
			}
			if cur == nil {
				return nil, fmt.Errorf("line %d: %q before any \"machine\" or \"default\"", line, tok)
			}
			switch tok {
			case "login":
				cur.login = v
			case "password":
				cur.password = v
			}
		case "macdef":
			finish()
			if _, err := value(); err != nil {
				return nil, err
			}
			if err := sc.skipMacro(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("line %d: unknown keyword %q", line, tok)
		}
	}
	finish()
	return n, nil
}

// netrcScanner splits a .netrc file into tokens, counting lines.
type netrcScanner struct {
	br          *bufio.Reader
	line        int
	endedByLine bool // the last token ended at a line break
	bol         bool // the next byte starts a line
}

// maxNetrcToken bounds one token, so a file without white space cannot
// grow memory without end.
const maxNetrcToken = 64 << 10

var errNetrcToken = errors.New("token longer than 64 KiB")

// next returns the next token and the line it starts on.
func (s *netrcScanner) next() (string, int, error) {
	s.endedByLine = false
	var c byte
	var err error
	for { // skip white space and comment lines
		if c, err = s.br.ReadByte(); err != nil {
			return "", s.line, err
		}
		if c == '#' && s.bol {
			if _, err := s.br.ReadString('\n'); err != nil {
				return "", s.line, err
			}
			s.line++
			continue
		}
		s.bol = c == '\n'
		if c == '\n' {
			s.line++
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' {
			break
		}
	}
	line := s.line
	var b strings.Builder
	if c == '"' {
		for {
			if c, err = s.br.ReadByte(); err != nil {
				return "", line, fmt.Errorf("line %d: unterminated quoted token", line)
			}
			switch c {
			case '"':
				return b.String(), line, nil
			case '\n':
				s.line++
			case '\\':
				if c, err = s.br.ReadByte(); err != nil {
					return "", line, fmt.Errorf("line %d: unterminated quoted token", line)
				}
				switch c {
				case 'n':
					c = '\n'
				case 't':
					c = '\t'
				case 'r':
					c = '\r'
				}
			}
			if b.Len() >= maxNetrcToken {
				return "", line, fmt.Errorf("line %d: %w", line, errNetrcToken)
			}
			b.WriteByte(c)
		}
	}
	for {
		b.WriteByte(c)
		if b.Len() > maxNetrcToken {
			return "", line, fmt.Errorf("line %d: %w", line, errNetrcToken)
		}
		if c, err = s.br.ReadByte(); err != nil {
			return b.String(), line, nil // EOF ends the token; the next call reports it
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
			if c == '\n' {
				s.line++
				s.endedByLine, s.bol = true, true
			}
			return b.String(), line, nil
		}
	}
}

// skipMacro skips a macdef body: the rest of its line and the lines after,
// up to and including an empty line (or the end of the file).
func (s *netrcScanner) skipMacro() error {
	startOfLine := s.endedByLine
	for {
		c, err := s.br.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if c == '\n' {
			s.line++
			if startOfLine {
				s.bol = true
				return nil
			}
			startOfLine = true
			continue
		}
		if c != '\r' {
			startOfLine = false
		}
	}
}
