package run

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// ask is --interactive: the command and " ?..." on stderr, the answer
// read from the terminal; only an answer starting with y or Y runs the
// job. The caller holds no lock; asks come one at a time.
func (r *runner) ask(j *job) bool {
	r.askMu.Lock()
	defer r.askMu.Unlock()
	fmt.Fprintf(r.o.Stderr, "%s ?...", j.cmd)
	tty, err := os.Open("/dev/tty")
	if err != nil {
		fmt.Fprintf(r.o.Stderr, "\ncrew run: --interactive: %v\n", err)
		return false
	}
	defer tty.Close()
	line, _ := bufio.NewReader(tty).ReadString('\n')
	return strings.HasPrefix(strings.TrimLeft(line, " \t\n\r\f\v"), "y") || strings.HasPrefix(strings.TrimLeft(line, " \t\n\r\f\v"), "Y")
}
