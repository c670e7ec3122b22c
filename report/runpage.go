package report

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"os"
	"strconv"
	"time"
)

// RunPage is what a run folder's index.html shows: plain HTML and CSS, no
// script and nothing from the network. File names are relative to the page.
type RunPage struct {
	Title       string
	Config      [][2]string  // the run's configuration: name, value
	Step, Total int          // steps done, of the run's total
	Live        bool         // the run is going: the page reloads itself
	Losses      []NamedValue // of the newest step
	Samples     string       // newest sample grid ("" before the first)
	Recon       string       // newest reconstruction grid ("" for none)
	LossPlot    string
	QualityCSV  string // quality.csv: shown as a table ("" or missing: none yet)
	QualityPlot string
	Best        string // the best checkpoint ("" for none yet)
	Updated     time.Time
}

// refreshSeconds is how often a live run's page reloads itself.
const refreshSeconds = 30

var runPage = template.Must(template.New("run").Funcs(template.FuncMap{
	"num": func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
{{if .Live}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:80em}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;font-size:.9em} td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}
th{background:#f3f3f3} td.k{text-align:left}
.grids{display:flex;gap:2em;flex-wrap:wrap} figure{margin:0} img{image-rendering:pixelated;max-width:100%}
.bar{background:#eee;width:30em;height:.8em} .bar div{background:#4a7;height:100%}
</style></head><body>
<h1>{{.Title}}</h1>
<p>step {{.Step}} of {{.Total}}{{if .Live}} — running; this page reloads every {{.Refresh}} s{{else}} — stopped{{end}}; updated {{.Updated.Format "2006-01-02 15:04:05"}}</p>
<div class="bar"><div style="width:{{.Percent}}%"></div></div>
{{if .Losses}}<h2>Losses at step {{.Step}}</h2>
<table><tr>{{range .Losses}}<th>{{.Name}}</th>{{end}}</tr><tr>{{range .Losses}}<td>{{num .Value}}</td>{{end}}</tr></table>{{end}}
<h2>Newest samples and reconstructions</h2>
<div class="grids">
{{if .Samples}}<figure><img src="{{.Samples}}" alt="prior samples"><figcaption>prior samples ({{.Samples}})</figcaption></figure>{{end}}
{{if .Recon}}<figure><img src="{{.Recon}}" alt="reconstructions"><figcaption>inputs above their reconstructions ({{.Recon}})</figcaption></figure>{{end}}
</div>
{{if .LossPlot}}<h2>Losses</h2><img src="{{.LossPlot}}" alt="loss plot">{{end}}
{{if .Quality}}<h2>Sample quality</h2>
<table><tr>{{range .QualityHead}}<th>{{.}}</th>{{end}}</tr>
{{range .Quality}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if .QualityPlot}}<p><img src="{{.QualityPlot}}" alt="quality plot"></p>{{end}}{{end}}
{{if .Best}}<p>Best checkpoint so far (lowest Fréchet distance): <a href="{{.Best}}">{{.Best}}</a></p>{{end}}
<h2>Configuration</h2>
<table>{{range .Config}}<tr><td class="k">{{index . 0}}</td><td class="k">{{index . 1}}</td></tr>{{end}}</table>
</body></html>
`))

// WriteRunPage writes p to path as HTML, replacing any existing page
// atomically. The quality table is read from p.QualityCSV when it exists.
func WriteRunPage(path string, p RunPage) error {
	view := struct {
		RunPage
		Refresh     int
		Percent     float64
		QualityHead []string
		Quality     [][]string
	}{RunPage: p, Refresh: refreshSeconds}
	if p.Total > 0 {
		view.Percent = min(100, 100*float64(p.Step)/float64(p.Total))
	}
	if p.QualityCSV != "" {
		rows, err := readTable(p.QualityCSV)
		if err != nil {
			return fmt.Errorf("report: run page %s: %w", path, err)
		}
		if len(rows) > 1 {
			view.QualityHead, view.Quality = rows[0], rows[1:]
		}
	}
	return writeFileAtomic(path, func(w io.Writer) error { return runPage.Execute(w, view) })
}

// readTable reads a CSV file whole; a missing file is an empty table.
func readTable(path string) ([][]string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return csv.NewReader(f).ReadAll()
}
