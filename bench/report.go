package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of Run, written as bench.json.
type Report struct {
	Machine     Machine      `json:"machine"`
	Quick       bool         `json:"quick"`
	Started     time.Time    `json:"started"`
	Finished    time.Time    `json:"finished"`
	Experiments []Experiment `json:"experiments"`
	Goals       []Goal       `json:"goals"`
}

// Experiment holds one experiment's rows: every language, mode and worker count.
type Experiment struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Seed  string `json:"seed"`
	Rows  []Row  `json:"rows"`
}

// Row is one configuration's measurement.
type Row struct {
	Lang    string `json:"lang"`
	Mode    string `json:"mode"`
	Workers int    `json:"workers"`
	Timing
	Speedup float64 `json:"speedup_vs_seq,omitempty"`
	IdealS  float64 `json:"ideal_s,omitempty"`
	Check   string  `json:"check,omitempty"`
	Error   string  `json:"error,omitempty"`
	Note    string  `json:"note,omitempty"`
}

// Goal is one of the performance targets the bench checks itself against.
type Goal struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	Pass     bool    `json:"pass"`
	Detail   string  `json:"detail"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as an aligned text table, then the goals.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "experiment\tlang\tmode\tworkers\twall (median)\tspread\tspeed-up\tCPU use\tnote\t")
	for _, e := range r.Experiments {
		for _, row := range e.Rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", e.Name, row.Lang, row.Mode, row.Workers, strings.Join(row.cells(), "\t"))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return r.writeGoals(w, func(g Goal) string {
		mark := "FAIL"
		if g.Pass {
			mark = "ok  "
		}
		return fmt.Sprintf("%s %s: %s (%s)", mark, g.Name, g.Detail, g.Target)
	})
}

func (r *Report) writeGoals(w io.Writer, line func(Goal) string) error {
	if r.Quick {
		_, err := fmt.Fprintln(w, "\nGoals are checked on full runs only: --quick inputs are too small.")
		return err
	}
	if len(r.Goals) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nGoals:")
	for _, g := range r.Goals {
		if _, err := fmt.Fprintln(w, line(g)); err != nil {
			return err
		}
	}
	return nil
}

func (row Row) cells() []string {
	if row.Error != "" && row.Reps == 0 {
		return []string{"—", "", "", "", row.Error, ""}
	}
	speed := ""
	if row.Speedup > 0 {
		speed = fmt.Sprintf("%.2f×", row.Speedup)
	}
	note := row.Note
	if row.Error != "" {
		note = row.Error
	}
	if row.IdealS > 0 && row.MedianS > 0 {
		note = strings.TrimSpace(fmt.Sprintf("%s ideal %s (%.0f%%)", note, seconds(row.IdealS), 100*row.IdealS/row.MedianS))
	}
	if row.Check != "" && strings.Contains(row.Check, " of ") {
		note = strings.TrimSpace(row.Check + "  " + note)
	}
	spread := ""
	if row.Reps > 1 {
		spread = fmt.Sprintf("%s–%s ×%d", seconds(row.MinS), seconds(row.MaxS), row.Reps)
	}
	return []string{seconds(row.MedianS), spread, speed, fmt.Sprintf("%.0f%%", 100*row.CPUUtil), note, ""}
}

func seconds(s float64) string {
	switch {
	case s >= 10:
		return fmt.Sprintf("%.1fs", s)
	case s >= 1:
		return fmt.Sprintf("%.2fs", s)
	default:
		return fmt.Sprintf("%.1fms", s*1000)
	}
}

// WriteMarkdown writes the report as Markdown: the machine, one table per
// experiment and the goals.
func (r *Report) WriteMarkdown(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "# crew bench\n\n%s, %d cores, %s %s/%s", m.CPU, m.Cores, m.GoVersion, m.OS, m.Arch)
	if m.Python != "" {
		fmt.Fprintf(w, ", %s", m.Python)
	}
	mode := "full run"
	if r.Quick {
		mode = "--quick run"
	}
	fmt.Fprintf(w, "; %s started %s, took %s.\n", mode, r.Started.Format(time.RFC3339), r.Finished.Sub(r.Started).Round(time.Second))
	for _, e := range r.Experiments {
		fmt.Fprintf(w, "\n## %s\n\n%s. Seed: %s.\n\n", e.Name, e.Title, e.Seed)
		fmt.Fprintln(w, "| lang | mode | workers | wall (median) | spread | speed-up vs seq | CPU use | note |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		for _, row := range e.Rows {
			c := row.cells()
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s |\n", row.Lang, row.Mode, row.Workers, c[0], c[1], c[2], c[3], c[4])
		}
	}
	return r.writeGoals(w, func(g Goal) string {
		mark := "❌"
		if g.Pass {
			mark = "✅"
		}
		return fmt.Sprintf("- %s %s: %s (%s)", mark, g.Name, g.Detail, g.Target)
	})
}

// checkGoals compares the report with the project's performance targets.
func checkGoals(r *Report) []Goal {
	goals := []Goal{} // [] in bench.json, not null, when there are none
	if r.Quick {
		return goals // quick inputs are too small for the targets to mean anything
	}
	for _, e := range r.Experiments {
		best := map[string]Row{}
		for _, row := range e.Rows {
			if row.Error != "" || row.MedianS <= 0 {
				continue
			}
			key := row.Lang + "/" + row.Mode
			if b, ok := best[key]; !ok || row.MedianS < b.MedianS {
				best[key] = row
			}
		}
		bestOf := func(lang string) (Row, bool) {
			var out Row
			found := false
			for k, row := range best {
				if strings.HasPrefix(k, lang+"/") && (!found || row.MedianS < out.MedianS) {
					out, found = row, true
				}
			}
			return out, found
		}
		switch e.Name {
		case "sum-primes", "is-prime", "squares":
			if r.Machine.Cores >= 2 {
				for k, row := range best {
					if !strings.HasPrefix(k, LangGo+"/") || row.Mode == ModeSeq {
						continue
					}
					goals = append(goals, Goal{
						Name: fmt.Sprintf("%s: %s vs seq", e.Name, row.Mode), Target: "≥ 1.8× on 2+ cores",
						Measured: row.Speedup, Pass: row.Speedup >= 1.8,
						Detail: fmt.Sprintf("%.2f× with %d workers", row.Speedup, row.Workers),
					})
				}
			}
			if e.Name == "squares" {
				break
			}
			g, okG := bestOf(LangGo)
			p, okP := bestOf(LangPython)
			if okG && okP {
				ratio := p.MedianS / g.MedianS
				goals = append(goals, Goal{
					Name: e.Name + ": Go best vs Python best", Target: "≥ 30×", Measured: ratio, Pass: ratio >= 30,
					Detail: fmt.Sprintf("%.1f× (Go %s %s×%d, Python %s %s×%d)", ratio, seconds(g.MedianS), g.Mode, g.Workers, seconds(p.MedianS), p.Mode, p.Workers),
				})
			}
		case "download":
			for _, row := range e.Rows {
				if row.Lang != LangGo || row.Workers < 16 || row.Error != "" || row.IdealS == 0 {
					continue
				}
				over := row.MedianS/row.IdealS - 1
				goals = append(goals, Goal{
					Name: fmt.Sprintf("download: %s×%d vs ideal", row.Mode, row.Workers), Target: "within 15% of N·latency/workers",
					Measured: over, Pass: over <= 0.15,
					Detail: fmt.Sprintf("%s vs ideal %s (+%.0f%%)", seconds(row.MedianS), seconds(row.IdealS), 100*over),
				})
			}
		}
	}
	slices.SortStableFunc(goals, func(a, b Goal) int { return strings.Compare(a.Name, b.Name) })
	return goals
}
