package bench

import (
	"fmt"
	"image/color"
	"io"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot formats for WritePlot.
const (
	SVG = "svg"
	PNG = "png"
)

// WritePlot draws one panel per timed experiment — speed-up over the
// language's sequential run against the number of workers, a line per
// language and mode — and writes it as SVG or PNG.
func (r *Report) WritePlot(w io.Writer, format string) error {
	var panels []*plot.Plot
	for _, e := range r.Experiments {
		if p, ok := panel(e); ok {
			panels = append(panels, p)
		}
	}
	if len(panels) == 0 {
		// Only the shared counter ran: it has no speed-ups to draw, but
		// the files are still written, and say why they are empty.
		p := plot.New()
		p.Title.Text = "no timed experiment to plot (the shared counter has no speed-ups)"
		p.HideAxes()
		panels = append(panels, p)
	}
	const cols = 2
	rows := (len(panels) + cols - 1) / cols
	width, height := 8*vg.Inch, vg.Length(rows)*3*vg.Inch
	var canvas vg.CanvasWriterTo
	switch format {
	case SVG:
		canvas = vgsvg.New(width, height)
	case PNG:
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(120))}
	default:
		return fmt.Errorf("bench: unknown plot format %q", format)
	}
	dc := draw.New(canvas)
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		for j := range cols {
			if k := i*cols + j; k < len(panels) {
				grid[i][j] = panels[k]
			}
		}
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	_, err := canvas.WriteTo(w)
	return err
}

var lineColors = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff},
	color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
}

func panel(e Experiment) (*plot.Plot, bool) {
	type key struct{ lang, mode string }
	var order []key
	series := map[key]plotter.XYs{}
	for _, row := range e.Rows {
		if row.Mode == ModeSeq || row.Speedup <= 0 {
			continue
		}
		k := key{row.Lang, row.Mode}
		if _, ok := series[k]; !ok {
			order = append(order, k)
		}
		series[k] = append(series[k], plotter.XY{X: float64(row.Workers), Y: row.Speedup})
	}
	if len(order) == 0 {
		return nil, false
	}
	p := plot.New()
	p.Title.Text = e.Name
	p.X.Label.Text = "workers"
	p.Y.Label.Text = "speed-up vs seq"
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, row := range e.Rows {
		if !slices.ContainsFunc(ticks, func(t plot.Tick) bool { return t.Value == float64(row.Workers) }) {
			ticks = append(ticks, plot.Tick{Value: float64(row.Workers), Label: fmt.Sprint(row.Workers)})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min = 0
	p.Legend.Top = false
	p.Legend.Left = false
	for i, k := range order {
		l, pts, err := plotter.NewLinePoints(series[k])
		if err != nil {
			continue
		}
		col := lineColors[i%len(lineColors)]
		l.Color, pts.Color = col, col
		if k.lang == LangPython {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l, pts)
		p.Legend.Add(k.lang+" "+k.mode, l, pts)
	}
	return p, true
}
