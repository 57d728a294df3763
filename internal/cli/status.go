package cli

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// statusLine shows what a long command is doing on stderr: one line
// rewritten in place on a terminal, one line per step otherwise.
type statusLine struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	last int
}

func newStatusLine(w io.Writer) *statusLine {
	f, ok := w.(*os.File)
	return &statusLine{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (s *statusLine) set(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tty {
		fmt.Fprintln(s.w, msg)
		return
	}
	pad := max(0, s.last-len(msg))
	fmt.Fprintf(s.w, "\r%s%*s", msg, pad, "")
	s.last = len(msg)
}

// done clears the line on a terminal.
func (s *statusLine) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty && s.last > 0 {
		fmt.Fprintf(s.w, "\r%*s\r", s.last, "")
	}
}
