package bench

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot formats.
const (
	SVG = "svg"
	PNG = "png"
)

// The charts' type and colours: one colour per language, so that Go and
// Python read apart in every chart, and line styles per mode.
var (
	sans       = font.Font{Typeface: "Liberation", Variant: "Sans"}
	goColor    = color.RGBA{0x00, 0x6d, 0x8f, 0xff} // a dark Go blue
	pyColor    = color.RGBA{0xd9, 0x8c, 0x00, 0xff} // an orange
	refColor   = color.RGBA{0x80, 0x80, 0x80, 0xff}
	okColor    = color.RGBA{0x2c, 0xa0, 0x2c, 0xff}
	badColor   = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	lostColor  = color.RGBA{0xc8, 0xc8, 0xc8, 0xff}
	white      = color.White
	black      = color.Black
	dashed     = []vg.Length{vg.Points(5), vg.Points(3)}
	dotted     = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	svgFontFix = strings.NewReplacer(
		"font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
)

func textStyle(size vg.Length) text.Style {
	return text.Style{Color: black, Font: font.From(sans, size), Handler: plot.DefaultTextHandler}
}

// newPlot returns a plot set in the charts' type.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 10.5)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 9.5)
		a.Tick.Label.Font = font.From(sans, 8.5)
	}
	return p
}

// niceStep returns the step of 1, 2, 2.5 or 5 times a power of ten that
// cuts span into about want intervals.
func niceStep(span float64, want int) float64 {
	if span <= 0 || want < 1 {
		return 1
	}
	raw := span / float64(want)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw*0.999 {
			return m * mag
		}
	}
	return 10 * mag
}

// evenAxis sets a linear axis from lo to at least hi with ticks at even
// steps, labelled by format.
func evenAxis(a *plot.Axis, lo, hi float64, want int, format func(float64) string) {
	step := niceStep(hi-lo, want)
	a.Min = math.Floor(lo/step+1e-9) * step
	a.Max = math.Ceil(hi/step-1e-9) * step
	if a.Max <= a.Min {
		a.Max = a.Min + step
	}
	a.Tick.Marker = evenTicks{step: step, format: format}
}

// evenTicks marks every multiple of step.
type evenTicks struct {
	step   float64
	format func(float64) string
	limit  float64 // no ticks above it, if not 0
}

func (t evenTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	if t.limit != 0 {
		hi = math.Min(hi, t.limit)
	}
	for i := math.Ceil(lo/t.step - 1e-9); i*t.step <= hi+t.step*1e-9; i++ {
		v := i * t.step
		if v == 0 {
			v = 0 // not -0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: t.label(v)})
	}
	return ticks
}

func (t evenTicks) label(v float64) string {
	if t.format != nil {
		return t.format(v)
	}
	return trimFloat(v, decimals(t.step))
}

// decimals is how many decimals it takes to write multiples of step.
func decimals(step float64) int {
	for d := 0; d < 6; d++ {
		if s := step * math.Pow(10, float64(d)); math.Abs(s-math.Round(s)) < 1e-6 {
			return d
		}
	}
	return 6
}

func trimFloat(v float64, dec int) string { return strconv.FormatFloat(v, 'f', dec, 64) }

// logAxis sets a logarithmic axis from lo to hi, each rounded out to 1, 2
// or 5 times a power of ten, with ticks at 1, 2 and 5 times powers of ten
// (only powers of ten when the range spans more than two decades),
// labelled by format.
func logAxis(a *plot.Axis, lo, hi float64, format func(float64) string) {
	a.Scale = plot.LogScale{}
	a.Min, a.Max = roundLog(lo, false), roundLog(hi, true)
	a.Tick.Marker = logTicks{format: format}
}

// roundLog rounds v down (or up) to 1, 2 or 5 times a power of ten.
func roundLog(v float64, up bool) float64 {
	e := math.Floor(math.Log10(v))
	steps := []float64{1, 2, 5, 10}
	if up {
		for _, m := range steps {
			if x := m * math.Pow(10, e); x >= v*0.999 {
				return x
			}
		}
	}
	for i := len(steps) - 1; i >= 0; i-- {
		if x := steps[i] * math.Pow(10, e); x <= v*1.001 {
			return x
		}
	}
	return math.Pow(10, e)
}

type logTicks struct{ format func(float64) string }

func (t logTicks) Ticks(lo, hi float64) []plot.Tick {
	labelled := []float64{1, 2, 5}
	if math.Log10(hi/lo) > 2.01 {
		labelled = []float64{1}
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for m := 1.0; m < 10; m++ {
			v := m * math.Pow(10, e)
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			label := ""
			for _, l := range labelled {
				if m == l {
					label = t.format(v)
				}
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	return ticks
}

// hbars draws horizontal bars, top to bottom, each of one or more
// segments laid end to end and a text after its end: a plotter that works
// on a logarithmic axis too, where bars start at the axis' minimum.
type hbars struct {
	bars []hbar
	text text.Style
}

type hbar struct {
	label string // on the Y axis
	segs  []seg
	text  string // after the bar's end
}

type seg struct {
	v float64
	c color.Color
}

func newHBars(bars []hbar) *hbars {
	sty := textStyle(8.5)
	sty.YAlign = draw.YCenter
	return &hbars{bars: bars, text: sty}
}

// labels returns the bars' labels for plot.NominalY (bottom to top).
func (h *hbars) labels() []string {
	out := make([]string, len(h.bars))
	for i, b := range h.bars {
		out[len(h.bars)-1-i] = b.label
	}
	return out
}

func (h *hbars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(h.bars)
	thick := (trY(1) - trY(0)) * 0.62
	base := 0.0
	if _, log := p.X.Scale.(plot.LogScale); log {
		base = p.X.Min
	}
	for i, b := range h.bars {
		y := trY(float64(n - 1 - i))
		x := base
		for _, s := range b.segs {
			if s.v <= 0 {
				continue
			}
			x0, x1 := trX(math.Max(x, p.X.Min)), trX(math.Min(x+s.v, p.X.Max))
			x += s.v
			if x1 <= x0 {
				continue
			}
			c.FillPolygon(s.c, []vg.Point{{X: x0, Y: y - thick/2}, {X: x1, Y: y - thick/2}, {X: x1, Y: y + thick/2}, {X: x0, Y: y + thick/2}})
		}
		if b.text != "" {
			c.FillText(h.text, vg.Point{X: trX(math.Max(x, p.X.Min)) + vg.Points(4), Y: y}, b.text)
		}
	}
}

func (h *hbars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, b := range h.bars {
		total := 0.0
		for _, s := range b.segs {
			total += s.v
		}
		xmax = math.Max(xmax, total)
		xmin = math.Min(xmin, total)
	}
	return xmin, xmax, -0.5, float64(len(h.bars)) - 0.5
}

// swatch is a legend thumbnail: a filled box.
type swatch struct{ c color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	h := r.Size().Y * 0.8
	y0 := r.Min.Y + (r.Size().Y-h)/2
	c.FillPolygon(s.c, []vg.Point{{X: r.Min.X, Y: y0}, {X: r.Max.X, Y: y0}, {X: r.Max.X, Y: y0 + h}, {X: r.Min.X, Y: y0 + h}})
}

// entry is one item of a figure's legend.
type entry struct {
	name   string
	thumbs []plot.Thumbnailer
}

// figure is a chart file: a title, a grid of panels, a legend in a strip
// of its own under them (so that it never covers data) and a note.
type figure struct {
	title  string
	panels []*plot.Plot
	cols   int
	panelW vg.Length // each panel's size
	panelH vg.Length
	legend []entry
	note   string // small print under the legend: the machine
}

const (
	titleH  = vg.Length(26)
	lineH   = vg.Length(14)
	padding = vg.Length(8)
)

// write draws the figure as SVG or PNG.
func (f figure) write(w io.Writer, format string) error {
	cols := max(1, min(f.cols, len(f.panels)))
	rows := (len(f.panels) + cols - 1) / cols
	width := f.panelW * vg.Length(cols)
	legendRows := f.legendRows(width - 2*padding)
	noteH := vg.Length(0)
	if f.note != "" {
		noteH = lineH
	}
	height := titleH + f.panelH*vg.Length(rows) + lineH*vg.Length(len(legendRows)) + noteH + 2*padding
	var canvas vg.CanvasWriterTo
	switch format {
	case SVG:
		canvas = vgsvg.New(width, height)
	case PNG:
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(144))}
	default:
		return fmt.Errorf("bench: unknown plot format %q", format)
	}
	dc := draw.New(canvas)
	dc.FillPolygon(white, []vg.Point{dc.Min, {X: dc.Max.X, Y: dc.Min.Y}, dc.Max, {X: dc.Min.X, Y: dc.Max.Y}})
	title := textStyle(12.5)
	title.XAlign, title.YAlign = draw.XCenter, draw.YTop
	dc.FillText(title, vg.Point{X: width / 2, Y: height - padding}, f.title)

	top := height - titleH
	if len(f.panels) > 0 {
		area := dc
		area.Min.Y = top - f.panelH*vg.Length(rows)
		area.Max.Y = top
		grid := make([][]*plot.Plot, rows)
		for i := range grid {
			grid[i] = make([]*plot.Plot, cols)
			for j := range cols {
				if k := i*cols + j; k < len(f.panels) {
					grid[i][j] = f.panels[k]
				}
			}
		}
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: 3 * padding, PadY: padding, PadLeft: padding / 2, PadRight: 3 * padding, PadTop: 2, PadBottom: 2}
		canvases := plot.Align(grid, tiles, area)
		for i := range grid {
			for j, p := range grid[i] {
				if p != nil {
					p.Draw(canvases[i][j])
				}
			}
		}
	}
	y := top - f.panelH*vg.Length(rows) - padding/2
	f.drawLegend(dc, legendRows, width, y)
	if f.note != "" {
		sty := textStyle(8)
		sty.Color = refColor
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		dc.FillText(sty, vg.Point{X: width / 2, Y: padding + noteH}, f.note)
	}
	if format != SVG {
		_, err := canvas.WriteTo(w)
		return err
	}
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return err
	}
	// Browsers without Liberation Sans fall back to its metric twins.
	_, err := svgFontFix.WriteString(w, buf.String())
	return err
}

const thumbW = vg.Length(22)

// legendRows lays the legend's entries out in rows no wider than width.
func (f figure) legendRows(width vg.Length) [][]entry {
	sty := textStyle(9)
	var rows [][]entry
	var cur []entry
	x := vg.Length(0)
	for _, e := range f.legend {
		w := thumbW + 4 + sty.Width(e.name) + 14
		if len(cur) > 0 && x+w > width {
			rows, cur, x = append(rows, cur), nil, 0
		}
		cur = append(cur, e)
		x += w
	}
	if len(cur) > 0 {
		rows = append(rows, cur)
	}
	return rows
}

// drawLegend draws the rows centred, the first row's top at y.
func (f figure) drawLegend(dc draw.Canvas, rows [][]entry, width, y vg.Length) {
	sty := textStyle(9)
	sty.YAlign = draw.YCenter
	for _, row := range rows {
		total := vg.Length(0)
		for _, e := range row {
			total += thumbW + 4 + sty.Width(e.name) + 14
		}
		x := (width - total + 14) / 2
		mid := y - lineH/2
		for _, e := range row {
			thumb := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: mid - 4.5}, Max: vg.Point{X: x + thumbW, Y: mid + 4.5}}}
			for _, t := range e.thumbs {
				t.Thumbnail(&thumb)
			}
			dc.FillText(sty, vg.Point{X: x + thumbW + 4, Y: mid}, e.name)
			x += thumbW + 4 + sty.Width(e.name) + 14
		}
		y -= lineH
	}
}

// durationLabel writes seconds for an axis: 10ms, 1s, 100µs.
func durationLabel(s float64) string {
	switch {
	case s >= 1:
		return trimFloat(s, decimals(s)) + " s"
	case s >= 1e-3:
		return trimFloat(s*1e3, decimals(math.Round(s*1e6)/1e3)) + " ms"
	default:
		return trimFloat(s*1e6, decimals(math.Round(s*1e9)/1e3)) + " µs"
	}
}
