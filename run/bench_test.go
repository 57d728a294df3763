//go:build unix

package run

import (
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRun measures crew's cost per job at -j2, as bench/run/run.sh
// does side by side with xargs: a job that does nothing, and one whose
// output is captured and printed grouped.
func BenchmarkRun(b *testing.B) {
	for _, bc := range []struct {
		name    string
		command []string
	}{
		{"true", []string{"/bin/true"}},
		{"echo", []string{"echo", "{}"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			args := make([]string, b.N)
			for i := range args {
				args[i] = strconv.Itoa(i + 1)
			}
			var before, after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			b.ResetTimer()
			err := Run(b.Context(), Options{Command: bc.command, Sources: []Source{Args(args...)}, Jobs: 2, Stdout: io.Discard, Stderr: io.Discard})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			// crew's own CPU time per job, which the jobs cannot use.
			cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/job")
		})
	}
}

// BenchmarkDryRun measures what crew spends per input line to read it,
// fill in the command and print it: `seq N | crew run --dry-run echo`.
func BenchmarkDryRun(b *testing.B) {
	var in strings.Builder
	for i := range b.N {
		in.WriteString(strconv.Itoa(i + 1))
		in.WriteByte('\n')
	}
	b.ResetTimer()
	err := Run(b.Context(), Options{Command: []string{"echo"}, Sources: []Source{Reader(strings.NewReader(in.String()))}, Jobs: 2, DryRun: true, Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
}
