package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// WriteHTML writes the report as one self-contained page — styles and
// charts (SVG, drawn by the same code as the chart files) inline, nothing
// fetched — for a browser: the headline, then per experiment the
// tutorial's question, the seed it comes from, the chart, what the numbers
// say on this machine and the table; then the columns and the goals.
func (r *Report) WriteHTML(w io.Writer) error {
	type section struct {
		Experiment
		Chart template.HTML
		Table htmlTable
	}
	page := struct {
		R        *Report
		Machine  string
		Run      string
		Headline template.HTML
		Sections []section
		Columns  []struct{ Col, Help string }
	}{R: r, Run: r.runLine()}
	m := r.Machine
	page.Machine = strings.TrimPrefix(pythonPart(m), ", ")
	var err error
	if page.Headline, err = r.inlineChart(ChartTime, nil); err != nil {
		return err
	}
	used := map[string]bool{}
	for _, e := range r.Experiments {
		t := r.table(e)
		s := section{Experiment: e, Table: t.html()}
		if s.Chart, err = r.inlineChart(chartOf[kindOf(e.Kind)], &e); err != nil {
			return err
		}
		for _, h := range t.head {
			used[h] = true
		}
		page.Sections = append(page.Sections, s)
	}
	for _, c := range columnHelp {
		if used[c.col] {
			page.Columns = append(page.Columns, struct{ Col, Help string }{c.col, c.help})
		}
	}
	return pageTemplate.Execute(w, page)
}

type htmlCell struct{ Text, Class string }

type htmlRow struct {
	Lang  string
	Cells []htmlCell
}

type htmlTable struct {
	Head  []htmlCell
	Rows  []htmlRow
	Notes []string
}

func (t table) html() htmlTable {
	class := func(i int) string {
		if t.right[i] {
			return "num"
		}
		return ""
	}
	var h htmlTable
	for i, c := range t.head {
		h.Head = append(h.Head, htmlCell{c, class(i)})
	}
	for _, row := range t.rows {
		hr := htmlRow{Lang: row[0]}
		for i, c := range row {
			hr.Cells = append(hr.Cells, htmlCell{c, class(i)})
		}
		h.Rows = append(h.Rows, hr)
	}
	for i, n := range t.notes {
		h.Notes = append(h.Notes, fmt.Sprintf("[%d] %s", i+1, n))
	}
	if t.remark != "" {
		h.Notes = append(h.Notes, t.remark)
	}
	return h
}

// inlineChart draws a chart as SVG to put in the page.
func (r *Report) inlineChart(name string, only *Experiment) (template.HTML, error) {
	f, err := r.chart(name, only)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := f.write(&buf, SVG); err != nil {
		return "", err
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:] // the XML declaration and comment are for files only
	}
	// The markup is gonum's own SVG, with every text it draws escaped.
	return template.HTML(s), nil
}

var pageTemplate = template.Must(template.New("bench.html").Funcs(template.FuncMap{
	"verdictClass": func(v string) string { return strings.ReplaceAll(v, " ", "-") },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crew bench: the Python tutorials' experiments, on this machine</title>
<style>
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; color: #1b1b1b; margin: 0; background: #fafafa; }
main { max-width: 980px; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; background: #fff; }
h1 { font-size: 1.7rem; margin: .2rem 0 .4rem; }
h2 { font-size: 1.3rem; margin: 2.6rem 0 .4rem; border-top: 1px solid #ddd; padding-top: 1.2rem; }
.machine, .run { color: #555; margin: .1rem 0; }
.warning { background: #fff4d6; border-left: 5px solid #d98c00; padding: .6rem .9rem; margin: 1rem 0; }
.headline { font-size: 1.05rem; }
nav ol { columns: 2; padding-left: 1.4rem; }
.question { font-size: 1.1rem; font-style: italic; margin: .3rem 0; }
.seed { color: #555; margin: .2rem 0 .8rem; font-size: .92rem; }
figure.chart { margin: .8rem 0; }
figure.chart svg { display: block; width: 100%; height: auto; }
ul.findings { padding-left: 1.2rem; }
ul.findings li { margin: .35rem 0; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e3e3e3; white-space: nowrap; }
th { text-align: left; background: #f2f2f2; }
td.num, th.num { text-align: right; }
tr.python td:first-child { color: #a86a00; }
tr.go td:first-child { color: #006d8f; }
.notes { font-size: .88rem; color: #444; }
.scroll { overflow-x: auto; }
dl.columns { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.columns dt { font-weight: 600; }
dl.columns dd { margin: 0; }
td.met { color: #1d7a1d; font-weight: 600; }
td.not-met { color: #b3261e; font-weight: 600; }
td.not-checked { color: #666; }
td.wrap { white-space: normal; }
table.goals { width: 100%; table-layout: fixed; }
table.goals td { vertical-align: top; }
</style>
</head>
<body>
<main>
<header>
<h1>crew bench: the Python tutorials' experiments, on this machine</h1>
<p class="machine">{{.R.Machine.Cores}} cores ({{.R.Machine.CPU}}), {{.R.Machine.GoVersion}} {{.R.Machine.OS}}/{{.R.Machine.Arch}}, {{.Machine}}.</p>
<p class="run">{{.Run}}</p>
</header>
{{range .R.Warnings}}<p class="warning"><strong>Warning.</strong> {{.}}</p>
{{end}}
<section id="headline">
<h2>The headline</h2>
{{if .R.Summary}}<p class="headline">{{range .R.Summary}}{{.}} {{end}}</p>{{end}}
<figure class="chart">{{.Headline}}</figure>
<nav><ol>{{range .Sections}}<li><a href="#{{.Name}}">{{.Title}}</a></li>{{end}}</ol></nav>
</section>
{{range .Sections}}
<section class="experiment" id="{{.Name}}" data-name="{{.Name}}">
<h2>{{.Number}}. {{.Title}}</h2>
<p class="question">{{.Question}}</p>
<p class="seed">From {{.Seed}}.</p>
<figure class="chart">{{.Chart}}</figure>
{{if .Findings}}<ul class="findings">{{range .Findings}}<li>{{.}}</li>{{end}}</ul>{{end}}
<div class="scroll"><table class="results">
<thead><tr>{{range .Table.Head}}<th class="{{.Class}}">{{.Text}}</th>{{end}}</tr></thead>
<tbody>{{range .Table.Rows}}
<tr class="{{.Lang}}">{{range .Cells}}<td class="{{.Class}}">{{.Text}}</td>{{end}}</tr>{{end}}
</tbody>
</table></div>
{{if .Table.Notes}}<div class="notes">{{range .Table.Notes}}<p>{{.}}</p>{{end}}</div>{{end}}
</section>
{{end}}
<section id="columns">
<h2>What the columns mean</h2>
<dl class="columns">{{range .Columns}}<dt>{{.Col}}</dt><dd>{{.Help}}</dd>{{end}}</dl>
</section>
{{if .R.Goals}}<section id="goals">
<h2>Goals</h2>
<p>Targets the bench checks itself against. A goal it cannot judge on this run says why.</p>
<div class="scroll"><table class="goals">
<colgroup><col style="width:12%"><col style="width:36%"><col style="width:30%"><col style="width:22%"></colgroup>
<thead><tr><th>verdict</th><th>goal</th><th>measured</th><th>target</th></tr></thead>
<tbody>{{range .R.Goals}}
<tr><td class="{{verdictClass .Verdict}}">{{.Verdict}}</td><td class="wrap">{{.Name}}<br><small>{{.Why}}</small></td><td class="wrap">{{.Detail}}</td><td class="wrap">{{.Target}}</td></tr>{{end}}
</tbody></table></div>
</section>{{end}}
<footer><p class="run">Made by <code>crew bench</code>; the same figures are in bench.json and bench.md beside this page.</p></footer>
</main>
</body>
</html>
`))
