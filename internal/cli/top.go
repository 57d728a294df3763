package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/crewrun/crew/cluster/view"
)

type topOptions struct {
	client clusterClient
	every  time.Duration
}

func newTopCommand(s Streams) *cobra.Command {
	var o topOptions
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Watch the jobs and workers of a crew server in the terminal",
		Long: `crew top shows what the live view (crew serve --ui) shows, in the
terminal, redrawn in place every --interval: the jobs with their tasks
queued, in flight, done, failed and retried, their rates and a sparkline of
the last 30 seconds, the workers with their busy slots and last heartbeat
(a quiet one is marked), and the latest failures. q (or Ctrl-C) quits.

It takes the server's credentials, like crew worker.`,
		Example: `  crew top --server nats://10.0.0.5:4222 --token-file ~/.crew-token`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.every < 100*time.Millisecond {
				return usagef("--interval %v: at least 100ms", o.every)
			}
			obs, err := o.client.observe(cmd.Context())
			if err != nil {
				return err
			}
			defer obs.Close()
			scr := newScreen(s)
			defer scr.close()
			tick := time.NewTicker(o.every)
			defer tick.Stop()
			for {
				st, err := obs.State(cmd.Context())
				if err != nil {
					return err
				}
				scr.draw(topFrame(st, o.client.server, scr.width))
				select {
				case <-scr.quit:
					return nil
				case <-cmd.Context().Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
	o.client.register(cmd.Flags())
	cmd.Flags().DurationVar(&o.every, "interval", time.Second, "how often to redraw")
	return cmd
}

// screen is where crew top draws: on a terminal, the alternate screen,
// redrawn in place, with the keyboard in raw mode so that q needs no
// Enter; otherwise one frame after the other.
type screen struct {
	out           io.Writer
	tty           bool
	width, height int
	restore       func()
	quit          chan struct{}
}

func newScreen(s Streams) *screen {
	scr := &screen{out: s.Out, width: 160, height: 50, quit: make(chan struct{}), restore: func() {}}
	if f, ok := s.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		scr.tty = true
		if w, h, err := term.GetSize(int(f.Fd())); err == nil {
			scr.width, scr.height = w, h
		}
		fmt.Fprint(s.Out, "\x1b[?1049h\x1b[?25l") // the alternate screen, no cursor
	}
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if old, err := term.MakeRaw(int(f.Fd())); err == nil {
			scr.restore = func() { term.Restore(int(f.Fd()), old) }
		}
	}
	go scr.keys(s.In)
	return scr
}

// keys closes quit when q, Q or Ctrl-C is typed.
func (scr *screen) keys(in io.Reader) {
	var once sync.Once
	buf := make([]byte, 64)
	for {
		n, err := in.Read(buf)
		if bytes.ContainsAny(buf[:n], "qQ\x03") {
			once.Do(func() { close(scr.quit) })
		}
		if err != nil {
			return
		}
	}
}

// draw shows a frame.
func (scr *screen) draw(frame []string) {
	if !scr.tty {
		fmt.Fprintln(scr.out, strings.Join(frame, "\n")+"\n")
		return
	}
	var b strings.Builder
	b.WriteString("\x1b[H")
	for i, line := range frame {
		if i >= scr.height {
			break
		}
		if r := []rune(line); len(r) > scr.width {
			line = string(r[:scr.width])
		}
		b.WriteString(line + "\x1b[K\r\n")
	}
	b.WriteString("\x1b[J")
	io.WriteString(scr.out, b.String())
}

func (scr *screen) close() {
	scr.restore()
	if scr.tty {
		fmt.Fprint(scr.out, "\x1b[?25h\x1b[?1049l")
	}
}

// topFrame renders the state as lines.
func topFrame(st view.State, server string, width int) []string {
	running, slots, busy, live := 0, 0, int64(0), 0
	for _, j := range st.Jobs {
		if j.State == view.Running {
			running++
		}
	}
	for _, w := range st.Workers {
		if !w.Quiet {
			live++
			slots += w.Slots
			busy += w.Busy
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "crew top  %s  %s   %d running job(s), %d ended · %d worker(s), %d/%d slots busy   q quits\n\n",
		server, st.Time.Format("15:04:05"), running, len(st.Jobs)-running, live, busy, slots)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tQUEUED\tIN FLIGHT\tDONE\tFAILED\tRETRIED\tTASKS/S 10s\tTASKS/S\tLAST 30s\tP50\tP99\tAGE\tSUBMITTED BY")
	for _, j := range st.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.State, j.Queued, j.InFlight, j.Done, j.Failed,
			j.Retried, viewRate(j.Rate10s), viewRate(j.Rate), sparkline(j.Spark[max(len(j.Spark)-30, 0):]), runTime(j.P50), runTime(j.P99), viewAge(j.Age), submitter(j))
	}
	if len(st.Jobs) == 0 {
		fmt.Fprintln(tw, "(no jobs)")
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "WORKER\tSTATE\tSLOTS BUSY\tDONE\tFAILED\tHEARTBEAT\tVERSION\tTASKS")
	for _, w := range st.Workers {
		state := "live"
		switch {
		case w.Draining:
			state = "draining"
		case w.Quiet:
			state = "QUIET"
		}
		fmt.Fprintf(tw, "%s:%d\t%s\t%d/%d\t%d\t%d\t%s ago\t%s\t%s\n", w.Host, w.PID, state, w.Busy, w.Slots, w.Done, w.Failed,
			viewAge(st.Time.Sub(w.Heartbeat).Seconds()), w.Version, strings.Join(w.Tasks, " "))
	}
	if len(st.Workers) == 0 {
		fmt.Fprintln(tw, "(no workers connected)")
	}
	tw.Flush()
	var failures []view.Failure
	jobOf := map[string]string{}
	for _, j := range st.Jobs {
		for _, f := range j.Failures {
			failures = append(failures, f)
			jobOf[f.ID] = j.ID
		}
	}
	slices.SortFunc(failures, func(a, b view.Failure) int { return b.Time.Compare(a.Time) })
	if len(failures) > 0 {
		fmt.Fprintf(&b, "\nLATEST FAILURES\n")
		for _, f := range failures[:min(len(failures), 8)] {
			fmt.Fprintf(&b, "%s  %s  %s  %s: %s\n", f.Time.Local().Format("15:04:05"), f.ID, f.Task, f.Worker, firstLine(f.Error, max(width-60, 30)))
		}
	}
	return strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
}

// sparkline draws counts with block characters, scaled to their peak.
func sparkline(counts []int64) string {
	const bars = "▁▂▃▄▅▆▇█"
	blocks := []rune(bars)
	peak := int64(0)
	for _, n := range counts {
		peak = max(peak, n)
	}
	var b strings.Builder
	for _, n := range counts {
		switch {
		case n == 0:
			b.WriteRune(' ')
		default:
			b.WriteRune(blocks[min(int(n*int64(len(blocks)-1)/max(peak, 1)), len(blocks)-1)])
		}
	}
	return b.String()
}
