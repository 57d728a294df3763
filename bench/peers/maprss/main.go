// Command maprss maps a tiny task over 10M inputs with crew.Map and prints
// the process's peak resident set size, to show that memory stays flat no
// matter how long the input is.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/crewrun/crew"
)

var addTask = crew.Register("maprss.add", func(_ context.Context, n int) (int, error) { return n + n, nil })

func main() {
	n := flag.Int("n", 10_000_000, "inputs")
	unordered := flag.Bool("unordered", false, "yield as completed")
	flag.Parse()
	ex := crew.Goroutines()
	defer ex.Close()
	var opts []crew.MapOption
	if *unordered {
		opts = append(opts, crew.Unordered())
	}
	in := func(yield func(int) bool) {
		for i := range *n {
			if !yield(i) {
				return
			}
		}
	}
	count := 0
	for r := range crew.Map(context.Background(), ex, addTask, in, opts...) {
		if r.Err != nil || r.Value != 2*r.Index {
			fmt.Fprintln(os.Stderr, "bad result", r)
			os.Exit(1)
		}
		count++
	}
	fmt.Printf("inputs=%d results=%d peak_rss=%s\n", *n, count, peakRSS())
}

func peakRSS() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown"
}
