package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The charts a report draws. ChartTime is the headline, written as
// bench.svg and bench.png; each other chart belongs to experiments of one
// kind and is written as bench-NAME.svg and .png.
const (
	ChartTime      = "time"      // time per mode, Go and Python on one log axis
	ChartSpeedup   = "speedup"   // speed-up against workers, CPU-bound experiments
	ChartIO        = "io"        // IO-bound time against workers, beside the ideal
	ChartOverhead  = "overhead"  // µs per tiny task
	ChartCounter   = "counter"   // the shared counter's lost updates
	ChartIsolation = "isolation" // a crash and a hang, on goroutines and processes
)

// barCharts are the charts drawn as one panel of bars per experiment.
var barCharts = map[string]struct {
	kind  kind
	title string
	rowH  vg.Length // per bar
	panel func(e Experiment, cores int) (p *plot.Plot, legend []entry, bars int)
}{
	ChartOverhead:  {kindOverhead, "The cost of one tiny task, per mode (log scale; pool start and stop left out)", 18, overheadPanel},
	ChartCounter:   {kindCounter, "A shared counter: increments lost without synchronisation, and with it", 18, counterPanel},
	ChartIsolation: {kindIsolation, "One task crashes, one hangs: what became of the batch", 20, isolationPanel},
}

// chartAlt is a chart's alternative text in Markdown.
func chartAlt(name string) string {
	switch name {
	case ChartSpeedup:
		return "Speed-up over sequential against workers"
	case ChartIO:
		return "Time to download every page against workers, beside the ideal"
	}
	return barCharts[name].title
}

// chartOf names the chart that draws experiments of each kind.
var chartOf = map[kind]string{
	kindCPU: ChartSpeedup, kindIO: ChartIO, kindOverhead: ChartOverhead,
	kindCounter: ChartCounter, kindIsolation: ChartIsolation,
}

// ChartFile returns the file name of a chart in a format.
func ChartFile(name, format string) string {
	if name == ChartTime {
		return "bench." + format
	}
	return "bench-" + name + "." + format
}

// Charts lists the charts this report has data for, the headline first
// (it is always drawn, saying so when there is nothing to show).
func (r *Report) Charts() []string {
	out := []string{ChartTime}
	for _, name := range []string{ChartSpeedup, ChartIO, ChartOverhead, ChartCounter, ChartIsolation} {
		for _, e := range r.Experiments {
			if chartOf[kindOf(e.Kind)] == name {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

func kindOf(name string) kind {
	for k := kindCPU; k <= kindIsolation; k++ {
		if k.String() == name {
			return k
		}
	}
	return -1
}

// WritePlot writes the headline chart (ChartTime) as SVG or PNG.
func (r *Report) WritePlot(w io.Writer, format string) error {
	return r.WriteChart(w, ChartTime, format)
}

// WriteChart writes one of the charts Charts lists as SVG or PNG.
func (r *Report) WriteChart(w io.Writer, name, format string) error {
	f, err := r.chart(name, nil)
	if err != nil {
		return err
	}
	return f.write(w, format)
}

// chart builds a chart over the experiments only (all when nil).
func (r *Report) chart(name string, only *Experiment) (figure, error) {
	f := figure{cols: 1, panelW: 560, note: r.machineLine()}
	var exps []Experiment
	for _, e := range r.Experiments {
		if only == nil || e.Name == only.Name {
			exps = append(exps, e)
		}
	}
	add := func(p *plot.Plot, entries []entry) {
		f.panels = append(f.panels, p)
		for _, e := range entries {
			if !slices.ContainsFunc(f.legend, func(have entry) bool { return have.name == e.name }) {
				f.legend = append(f.legend, e)
			}
		}
	}
	cores := r.Machine.Cores
	switch name {
	case ChartTime:
		f.title = "Time per mode, Go and Python on one log scale (shorter is faster)"
		var timed []Experiment
		for _, e := range exps {
			if e.Kind == kindCPU.String() || e.Kind == kindIO.String() {
				timed = append(timed, e)
			}
		}
		lo, hi := timeRange(timed, cores)
		most := 0
		for _, e := range timed {
			p, entries, bars := timePanel(e, cores, lo, hi)
			add(p, entries)
			most = max(most, bars)
		}
		f.panelH = vg.Length(52 + 17*most)
		if len(f.panels) == 0 {
			p := newPlot("no timed experiment in this run (experiments 1–4 draw this chart)")
			p.HideAxes()
			f.panels, f.panelH = []*plot.Plot{p}, 60
		}
	case ChartSpeedup:
		f.title = fmt.Sprintf("CPU-bound: speed-up over sequential against workers, on %d cores (higher is faster)", cores)
		f.panelW, f.panelH, f.cols = 270, 250, 3
		if only != nil {
			f.panelW = 520
		}
		for _, e := range exps {
			if e.Kind == kindCPU.String() {
				add(speedupPanel(e, cores))
			}
		}
	case ChartIO:
		f.title = "IO-bound: time to download every page against workers, beside the ideal"
		f.panelW, f.panelH = 520, 290
		for _, e := range exps {
			if e.Kind == kindIO.String() {
				add(ioPanel(e))
			}
		}
	case ChartOverhead, ChartCounter, ChartIsolation:
		b := barCharts[name]
		f.title = b.title
		for _, e := range exps {
			if e.Kind == b.kind.String() {
				p, entries, bars := b.panel(e, cores)
				add(p, entries)
				f.panelH = 56 + b.rowH*vg.Length(bars)
			}
		}
	default:
		return f, fmt.Errorf("bench: unknown chart %q", name)
	}
	if len(f.panels) == 0 {
		return f, fmt.Errorf("bench: chart %q: no experiment of this run draws it", name)
	}
	return f, nil
}

func (r *Report) machineLine() string {
	m := r.Machine
	s := fmt.Sprintf("%d cores · %s · %s %s/%s", m.Cores, m.CPU, m.GoVersion, m.OS, m.Arch)
	if m.Python != "" {
		s += " · " + m.Python
	}
	s += " · crew bench " + r.Started.Format("2006-01-02")
	if r.Quick {
		s += " --quick"
	}
	if r.busy() {
		s += " · a busy machine: see the warning"
	}
	return s
}

// seriesStyle is how one language and mode is drawn in line charts.
type seriesStyle struct {
	name   string
	color  color.Color
	dashes []vg.Length
	glyph  draw.GlyphDrawer
}

func styleFor(lang, mode string, workAlone bool) seriesStyle {
	s := seriesStyle{name: lang + " " + mode, color: goColor, glyph: draw.CircleGlyph{}}
	if lang == LangPython {
		s.color = pyColor
	}
	switch mode {
	case ModeGoroutines:
	case "threads":
		s.glyph = draw.BoxGlyph{}
	case ModeSeq:
		s.name, s.glyph = lang+" sequential", draw.CrossGlyph{}
	default: // processes
		s.dashes, s.glyph = dashed, draw.TriangleGlyph{}
	}
	if workAlone {
		s.name += ", the work alone"
		s.dashes, s.glyph = dotted, draw.RingGlyph{}
	}
	return s
}

// line returns the line, points and legend entry of a series.
func (s seriesStyle) line(pts plotter.XYs) (*plotter.Line, *plotter.Scatter, entry) {
	l, sc, err := plotter.NewLinePoints(pts)
	if err != nil {
		panic(fmt.Sprintf("bench: plotting %s: %v", s.name, err)) // the points are finite by construction
	}
	l.Color, l.Dashes, l.Width = s.color, s.dashes, vg.Points(1.4)
	sc.Color, sc.Shape, sc.Radius = s.color, s.glyph, vg.Points(3)
	return l, sc, entry{name: s.name, thumbs: []plot.Thumbnailer{l, sc}}
}

// series groups an experiment's rows by language and mode, in row order,
// leaving out seq and failed rows.
type series struct {
	lang, mode string
	rows       []Row
}

func seriesOf(e Experiment) []series {
	var out []series
	for _, r := range e.Rows {
		if r.Mode == ModeSeq || r.Error != "" || r.Reps == 0 {
			continue
		}
		i := slices.IndexFunc(out, func(s series) bool { return s.lang == r.Lang && s.mode == r.Mode })
		if i < 0 {
			out = append(out, series{lang: r.Lang, mode: r.Mode})
			i = len(out) - 1
		}
		out[i].rows = append(out[i].rows, r)
	}
	return out
}

// workerAxis sets a logarithmic workers axis with a tick per count.
func workerAxis(a *plot.Axis, e Experiment) {
	var ws []int
	for _, r := range e.Rows {
		if r.Error == "" && !slices.Contains(ws, r.Workers) {
			ws = append(ws, r.Workers)
		}
	}
	slices.Sort(ws)
	if len(ws) == 0 {
		ws = []int{1}
	}
	var ticks []plot.Tick
	for _, w := range ws {
		ticks = append(ticks, plot.Tick{Value: float64(w), Label: fmt.Sprint(w)})
	}
	a.Scale = plot.LogScale{}
	a.Min, a.Max = float64(ws[0])/1.35, float64(ws[len(ws)-1])*1.35
	a.Tick.Marker = plot.ConstantTicks(ticks)
	a.Label.Text = "workers (log scale)"
}

func speedupPanel(e Experiment, cores int) (*plot.Plot, []entry) {
	p := newPlot(e.Label)
	p.Y.Label.Text = "speed-up over sequential"
	entries, _, hi := addSeries(p, e, func(r Row, workAlone bool) (v, lo, hi float64) {
		if workAlone {
			return r.WorkSpeedup, r.WorkSpeedup, r.WorkSpeedup
		}
		if r.MaxS <= 0 || r.MinS <= 0 {
			return r.Speedup, r.Speedup, r.Speedup
		}
		seq := r.Speedup * r.MedianS // the sequential median
		return r.Speedup, seq / r.MaxS, seq / r.MinS
	})
	ymax := math.Max(float64(cores), hi)
	workerAxis(&p.X, e)
	evenAxis(&p.Y, 0, ymax*1.08, 5, func(v float64) string { return trimFloat(v, decimals(v)) + "×" })
	one := reference{y: 1}
	ideal := idealCurve{cores: float64(cores)}
	mark := coreMark{x: float64(cores), text: fmt.Sprintf("%d cores", cores)}
	p.Add(one, ideal, mark)
	entries = append(entries,
		entry{name: "ideal: min(workers, cores)×", thumbs: []plot.Thumbnailer{lineThumb(refColor, dashed)}},
		entry{name: "1×: no faster than sequential", thumbs: []plot.Thumbnailer{lineThumb(refColor, nil)}},
		entry{name: "error bars: fastest to slowest run", thumbs: []plot.Thumbnailer{errThumb{}}},
	)
	return p, entries
}

// addSeries draws a line with points and error bars per language and mode
// of e (and for Go's executors other than goroutines one more, of the work
// alone), value giving each row's point and error bar; it returns the
// legend's entries and the range the bars span.
func addSeries(p *plot.Plot, e Experiment, value func(r Row, workAlone bool) (v, lo, hi float64)) (entries []entry, lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, s := range seriesOf(e) {
		for _, workAlone := range []bool{false, true} {
			if workAlone && (s.lang != LangGo || s.mode == ModeGoroutines) {
				continue
			}
			// Python's points sit a little right of Go's at the same worker
			// count, so that neither hides the other.
			dodge := 1.0
			if s.lang == LangPython {
				dodge = 1.06
			}
			var pts plotter.XYs
			var errs plotter.YErrors
			for _, r := range s.rows {
				v, l, h := value(r, workAlone)
				if v <= 0 || l <= 0 || h < v || l > v {
					continue
				}
				pts = append(pts, plotter.XY{X: float64(r.Workers) * dodge, Y: v})
				errs = append(errs, struct{ Low, High float64 }{v - l, h - v})
				lo, hi = math.Min(lo, l), math.Max(hi, h)
			}
			if len(pts) == 0 {
				continue
			}
			l, sc, en := styleFor(s.lang, s.mode, workAlone).line(pts)
			bars := &plotter.YErrorBars{XYs: pts, YErrors: errs, LineStyle: draw.LineStyle{Color: l.Color, Width: vg.Points(0.9)}, CapWidth: vg.Points(5)}
			p.Add(l, sc, bars)
			entries = append(entries, en)
		}
	}
	return entries, lo, hi
}

func ioPanel(e Experiment) (*plot.Plot, []entry) {
	p := newPlot(e.Label)
	p.Y.Label.Text = "wall time (log scale)"
	var entries []entry
	lo, hi := math.Inf(1), 0.0
	note := func(v float64) { lo, hi = math.Min(lo, v), math.Max(hi, v) }
	var ideal plotter.XYs
	for _, r := range e.Rows {
		if r.Lang == LangGo && r.IdealS > 0 && !slices.ContainsFunc(ideal, func(xy plotter.XY) bool { return xy.X == float64(r.Workers) }) {
			ideal = append(ideal, plotter.XY{X: float64(r.Workers), Y: r.IdealS})
			note(r.IdealS)
		}
	}
	slices.SortFunc(ideal, func(a, b plotter.XY) int { return int(a.X - b.X) })
	if len(ideal) > 0 {
		l, err := plotter.NewLine(ideal)
		if err == nil {
			l.Color, l.Dashes, l.Width = refColor, dashed, vg.Points(1.2)
			p.Add(l)
			entries = append(entries, entry{name: "ideal: pages × latency ÷ workers", thumbs: []plot.Thumbnailer{l}})
		}
	}
	for _, lang := range []string{LangGo, LangPython} {
		if r, ok := e.row(lang, ModeSeq, 1); ok {
			st := styleFor(lang, ModeSeq, false)
			sc, err := plotter.NewScatter(plotter.XYs{{X: 1, Y: r.MedianS}})
			if err == nil {
				sc.Color, sc.Shape, sc.Radius = st.color, st.glyph, vg.Points(4)
				p.Add(sc)
				entries = append(entries, entry{name: st.name, thumbs: []plot.Thumbnailer{sc}})
				note(r.MedianS)
			}
		}
	}
	more, slo, shi := addSeries(p, e, func(r Row, workAlone bool) (v, lo, hi float64) {
		if workAlone {
			return r.WorkS, r.WorkS, r.WorkS
		}
		return r.MedianS, r.MinS, r.MaxS
	})
	entries = append(entries, more...)
	if shi > 0 {
		note(slo)
		note(shi)
	}
	workerAxis(&p.X, e)
	if hi > 0 {
		logAxis(&p.Y, lo/1.2, hi*1.2, durationLabel)
	}
	return p, entries
}

// timeRange is the range of the headline's common time axis.
func timeRange(exps []Experiment, cores int) (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, e := range exps {
		for _, r := range timeRows(e, cores) {
			lo, hi = math.Min(lo, r.MedianS), math.Max(hi, r.MedianS)
		}
	}
	if hi == 0 {
		return 1e-3, 1
	}
	return lo / 1.5, hi * 12 // room for the labels after the bars
}

// timeRows are the rows the headline compares: each language's seq and
// each mode at the comparison's worker count (the cores; the most workers
// for IO).
func timeRows(e Experiment, cores int) []Row {
	w := cores
	if e.Kind == kindIO.String() {
		for _, r := range e.Rows {
			w = max(w, r.Workers)
		}
	}
	var out []Row
	for _, lang := range []string{LangGo, LangPython} {
		if r, ok := e.row(lang, ModeSeq, 1); ok {
			out = append(out, r)
		}
		for _, s := range seriesOf(e) {
			if s.lang != lang {
				continue
			}
			if r, ok := e.near(lang, s.mode, w); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// rowLabel names a row for a chart: go goroutines ×2.
func rowLabel(r Row) string { return r.Lang + " " + modeLabel(r) }

// modeLabel names a row's mode and workers: goroutines ×2, sequential.
func modeLabel(r Row) string {
	if r.Mode == ModeSeq {
		return "sequential"
	}
	return fmt.Sprintf("%s ×%d", r.Mode, r.Workers)
}

func langColor(lang string) color.Color {
	if lang == LangPython {
		return pyColor
	}
	return goColor
}

func timePanel(e Experiment, cores int, lo, hi float64) (*plot.Plot, []entry, int) {
	p := newPlot(e.Label)
	var bars []hbar
	for _, r := range timeRows(e, cores) {
		bars = append(bars, hbar{label: rowLabel(r), segs: []seg{{r.MedianS, langColor(r.Lang)}}, text: dur(r.MedianS)})
	}
	h := newHBars(bars)
	p.Add(h)
	if len(bars) > 0 {
		p.NominalY(h.labels()...)
	}
	logAxis(&p.X, lo, hi, durationLabel)
	p.X.Label.Text = "wall time (log scale)"
	return p, languageEntries(e), len(bars)
}

// languageEntries are the legend's entries for the languages e has rows of.
func languageEntries(e Experiment) []entry {
	var out []entry
	for _, lang := range []string{LangGo, LangPython} {
		if slices.ContainsFunc(e.Rows, func(r Row) bool { return r.Lang == lang }) {
			out = append(out, entry{name: langName(lang), thumbs: []plot.Thumbnailer{swatch{langColor(lang)}}})
		}
	}
	return out
}

// perTask is a row's time per task, pool start and stop left out.
func perTask(r Row, tasks int) float64 {
	if tasks == 0 {
		return 0
	}
	return (r.MedianS - r.PoolS) / float64(tasks)
}

func overheadPanel(e Experiment, cores int) (*plot.Plot, []entry, int) {
	p := newPlot(e.Label)
	var bars []hbar
	lo, hi := math.Inf(1), 0.0
	for _, r := range timeRows(e, cores) {
		us := perTask(r, e.Tasks) * 1e6
		if us <= 0 {
			continue
		}
		label := rowLabel(r)
		if r.Lang == LangGo && r.Mode == ModeSeq {
			label = "go sequential (a call)"
		}
		bars = append(bars, hbar{label: label, segs: []seg{{us, langColor(r.Lang)}}, text: micros(us)})
		lo, hi = math.Min(lo, us), math.Max(hi, us)
	}
	h := newHBars(bars)
	p.Add(h)
	if len(bars) > 0 {
		p.NominalY(h.labels()...)
		logAxis(&p.X, lo/1.5, hi*30, func(v float64) string { return trimFloat(v, decimals(v)) + " µs" })
	}
	p.X.Label.Text = "µs per task (log scale)"
	return p, languageEntries(e), len(bars)
}

func counterPanel(e Experiment, _ int) (*plot.Plot, []entry, int) {
	p := newPlot(e.Label)
	var bars []hbar
	for _, r := range e.Rows {
		b := hbar{label: r.Lang + " " + r.Mode}
		switch {
		case r.Error != "":
			b.text = "not run: " + r.Error
		case r.Reps > 0:
			lost := e.Total - r.Counted
			b.segs = []seg{{float64(lost), badColor}}
			b.text = "none lost: " + thousands(r.Counted)
			if lost > 0 {
				b.text = fmt.Sprintf("%s lost (%.1f%%)", thousands(lost), 100*float64(lost)/float64(e.Total))
			}
		}
		bars = append(bars, b)
	}
	h := newHBars(bars)
	p.Add(h)
	if len(bars) > 0 {
		p.NominalY(h.labels()...)
	}
	evenAxis(&p.X, 0, float64(max(e.Total, 1)), 4, func(v float64) string { return thousands(int(v)) })
	p.X.Label.Text = fmt.Sprintf("increments lost, of %s", thousands(e.Total))
	return p, []entry{{name: "increments lost", thumbs: []plot.Thumbnailer{swatch{badColor}}}}, len(bars)
}

func isolationPanel(e Experiment, _ int) (*plot.Plot, []entry, int) {
	p := newPlot(e.Label)
	var bars []hbar
	tasks := 1
	for _, run := range e.Isolation {
		b := hbar{label: fmt.Sprintf("%s %s, %s", run.Lang, run.Mode, run.Batch)}
		tasks = max(tasks, run.Tasks)
		if run.Error != "" {
			b.text = "not run"
		} else {
			b.segs = []seg{{float64(run.Completed), okColor}, {float64(run.Failed), badColor}, {float64(run.Lost()), lostColor}}
			b.text = outcomeShort(run)
		}
		bars = append(bars, b)
	}
	h := newHBars(bars)
	p.Add(h)
	if len(bars) > 0 {
		p.NominalY(h.labels()...)
	}
	evenAxis(&p.X, 0, float64(tasks)*1.6, 5, func(v float64) string { return fmt.Sprint(int(v)) })
	if t, ok := p.X.Tick.Marker.(evenTicks); ok {
		t.limit = float64(tasks)
		p.X.Tick.Marker = t
	}
	p.X.Label.Text = "tasks"
	return p, []entry{
		{name: "returned a value", thumbs: []plot.Thumbnailer{swatch{okColor}}},
		{name: "returned an error", thumbs: []plot.Thumbnailer{swatch{badColor}}},
		{name: "no result: lost", thumbs: []plot.Thumbnailer{swatch{lostColor}}},
	}, len(bars)
}

// outcomeShort says in a few words how a batch ended.
func outcomeShort(r IsolationRun) string {
	switch r.Outcome {
	case "died":
		return "program died after " + dur(r.ElapsedS)
	case "hung":
		return "hung: killed after " + dur(r.ElapsedS)
	}
	if r.Abandoned > 0 {
		return fmt.Sprintf("finished in %s, %s left running", dur(r.ElapsedS), plural(r.Abandoned, "task"))
	}
	return "finished in " + dur(r.ElapsedS)
}

// reference is a horizontal line across the data area.
type reference struct {
	y      float64
	dashes []vg.Length
}

func (r reference) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(r.y)
	c.StrokeLine2(draw.LineStyle{Color: refColor, Width: vg.Points(0.8), Dashes: r.dashes}, c.Min.X, y, c.Max.X, y)
}

// idealCurve is min(workers, cores): perfect use of every core.
type idealCurve struct{ cores float64 }

func (ic idealCurve) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	var pts []vg.Point
	const n = 64
	lo, hi := math.Log(math.Max(1, p.X.Min)), math.Log(p.X.Max)
	for i := 0; i <= n; i++ {
		x := math.Exp(lo + (hi-lo)*float64(i)/n)
		pts = append(pts, vg.Point{X: trX(x), Y: trY(math.Min(x, ic.cores))})
	}
	c.StrokeLines(draw.LineStyle{Color: refColor, Width: vg.Points(1.2), Dashes: dashed}, c.ClipLinesXY(pts)...)
}

// coreMark marks the number of cores on a workers axis.
type coreMark struct {
	x    float64
	text string
}

func (m coreMark) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(m.x)
	if !c.ContainsX(x) {
		return
	}
	c.StrokeLine2(draw.LineStyle{Color: refColor, Width: vg.Points(0.8), Dashes: dotted}, x, c.Min.Y, x, c.Max.Y)
	sty := textStyle(8)
	sty.Color = refColor
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
	c.FillText(sty, vg.Point{X: x + 3, Y: c.Max.Y - 2}, m.text)
}

// lineThumb draws a legend line.
type lineThumbnail struct {
	c      color.Color
	dashes []vg.Length
}

func lineThumb(c color.Color, dashes []vg.Length) lineThumbnail { return lineThumbnail{c, dashes} }

func (l lineThumbnail) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(draw.LineStyle{Color: l.c, Width: vg.Points(1.2), Dashes: l.dashes}, c.Min.X, y, c.Max.X, y)
}

// errThumb draws an error bar for the legend.
type errThumb struct{}

func (errThumb) Thumbnail(c *draw.Canvas) {
	x := c.Center().X
	sty := draw.LineStyle{Color: black, Width: vg.Points(0.9)}
	c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
	c.StrokeLine2(sty, x-3, c.Min.Y, x+3, c.Min.Y)
	c.StrokeLine2(sty, x-3, c.Max.Y, x+3, c.Max.Y)
}

// micros writes microseconds: 0.21 µs, 19 µs.
func micros(us float64) string {
	switch {
	case us >= 100:
		return fmt.Sprintf("%.0f µs", us)
	case us >= 10:
		return fmt.Sprintf("%.1f µs", us)
	case us >= 0.1:
		return fmt.Sprintf("%.2f µs", us)
	}
	return fmt.Sprintf("%.1f ns", us*1000)
}

// dur writes seconds for people: 124.9 ms, 7.57 s, 450 µs.
func dur(s float64) string {
	switch {
	case s >= 10:
		return fmt.Sprintf("%.1f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	case s >= 0.1:
		return fmt.Sprintf("%.0f ms", s*1e3)
	case s >= 0.001:
		return fmt.Sprintf("%.1f ms", s*1e3)
	}
	return fmt.Sprintf("%.0f µs", s*1e6)
}
