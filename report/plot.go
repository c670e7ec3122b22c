package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size of the plots: 8 inches wide (768 pixels at the 96 dpi of vgimg);
// a quality plot is 5 inches high, each panel of the loss plot 3.
const (
	plotWidth   = 8 * vg.Inch
	plotHeight  = 5 * vg.Inch
	panelHeight = 3 * vg.Inch
	legendWidth = 1.3 * vg.Inch
)

// seriesColors holds ten distinct colours (Tableau's), so that no two columns
// of a log share one.
var seriesColors = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255},
	{140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255},
}

// The loss plot's panels, by the kind of column they show.
const (
	panelLosses  = iota // every column not named below
	panelErrors         // dis_real, dis_fake: the discriminator's mean errors
	panelUpdates        // upd_dis, upd_dec: 0/1 update flags
	panelFrechet        // frechet, from the quality log
	panelShares         // precision, recall, agreement, ssim, sharpness, from the quality log
	numPanels
	noPanel = -1 // a quality-log column the loss plot leaves to quality.png
)

var panelTitles = [numPanels]string{
	"losses (thin: as logged; thick: smoothed)",
	"discriminator's mean error on real and fake images (dashed: the equilibrium rule's band, 0.33–1.03)",
	"share of steps each network was updated (rolling mean over 20 logged steps)",
	"sample quality: Fréchet distance to the test split in the classifier's features (lower is better)",
	"sample quality: precision, recall, sharpness (1: the data's); reconstructions: label agreement, SSIM",
}

// panelOf is the panel of a loss-log column, or of a quality-log column
// when quality is set.
func panelOf(name string, quality bool) int {
	switch {
	case quality && name == "frechet":
		return panelFrechet
	case quality && (name == "precision" || name == "recall" || name == "agreement" || name == "ssim" || name == "sharpness"):
		return panelShares
	case quality:
		return noPanel
	case name == "dis_real", name == "dis_fake":
		return panelErrors
	case name == "upd_dis", name == "upd_dec":
		return panelUpdates
	}
	return panelLosses
}

// PlotLosses reads a loss log CSV written by LossLog and draws it as a PNG
// at pngPath, replacing any existing file atomically: one panel per kind of
// column present (the losses; the discriminator's errors with the
// equilibrium band; the update flags as a rolling share; and, when
// qualityPath names a quality log that exists, the Fréchet distance and the
// quality shares at each evaluation), one colour per column, each loss curve
// smoothed over its raw values, the legend beside the data. Non-finite
// values are left out. A panel's y axis is logarithmic when every value in
// it is positive and they span at least a factor of 10. The image is 768
// pixels wide and 288 high per panel.
func PlotLosses(csvPath, qualityPath, pngPath string) error {
	names, series, err := readLossCSV(csvPath)
	if err != nil {
		return err
	}
	fromQuality := make([]bool, len(names))
	if qualityPath != "" {
		if _, err := os.Stat(qualityPath); err == nil {
			qn, qs, err := readLossCSV(qualityPath)
			switch {
			case errors.Is(err, errNoRows): // no evaluation yet: no quality panels
			case err != nil:
				return err
			default:
				names, series = append(names, qn...), append(series, qs...)
				fromQuality = append(fromQuality, make([]bool, len(qn))...)
				for i := len(fromQuality) - len(qn); i < len(fromQuality); i++ {
					fromQuality[i] = true
				}
			}
		}
	}
	panelAt := func(i int) int { return panelOf(names[i], fromQuality[i]) }
	var panels []int
	for k := range numPanels {
		for i, s := range series {
			if panelAt(i) == k && len(s) > 0 {
				panels = append(panels, k)
				break
			}
		}
	}
	if len(panels) == 0 {
		panels = []int{panelLosses}
	}
	height := panelHeight * vg.Length(len(panels))
	c := vgimg.PngCanvas{Canvas: vgimg.New(plotWidth, height)}
	dc := draw.New(c)
	for row, k := range panels {
		p := plot.New()
		p.Title.Text = panelTitles[k]
		p.Title.TextStyle.Font.Size = vg.Points(10)
		p.X.Label.Text = "step"
		legend := plot.NewLegend()
		var all plotter.XYs
		for i, s := range series {
			if panelAt(i) != k || len(s) == 0 {
				continue
			}
			col := seriesColors[i%len(seriesColors)]
			switch {
			case k == panelUpdates:
				s = rollingMean(s, 20)
			case fromQuality[i]: // a few evaluations: their points, joined
				pts, err := plotter.NewScatter(s)
				if err != nil {
					return fmt.Errorf("report: plotting %s column %q: %w", qualityPath, names[i], err)
				}
				pts.Color = col
				p.Add(pts)
			default:
				raw, err := plotter.NewLine(s)
				if err != nil {
					return fmt.Errorf("report: plotting %s column %q: %w", csvPath, names[i], err)
				}
				raw.Color, raw.Width = color.NRGBA{col.R, col.G, col.B, 90}, vg.Points(0.7)
				p.Add(raw)
				s = rollingMean(s, max(1, len(s)/25))
			}
			all = append(all, s...)
			line, err := plotter.NewLine(s)
			if err != nil {
				return fmt.Errorf("report: plotting %s column %q: %w", csvPath, names[i], err)
			}
			line.Color, line.Width = col, vg.Points(1.8)
			p.Add(line)
			legend.Add(names[i], line)
		}
		switch k {
		case panelErrors:
			for _, y := range []float64{0.68 - 0.35, 0.68 + 0.35} {
				band := plotter.NewFunction(func(float64) float64 { return y })
				band.Color, band.Dashes = color.Gray{Y: 120}, []vg.Length{vg.Points(4), vg.Points(3)}
				p.Add(band)
			}
			p.Y.Label.Text = "mean BCE"
			p.Y.Min, p.Y.Max = 0, max(p.Y.Max, 1.1) // the band in view
		case panelUpdates:
			p.Y.Min, p.Y.Max = 0, 1.05
			p.Y.Label.Text = "share"
		case panelFrechet:
			p.Y.Label.Text = "Fréchet distance"
			p.Y.Min = 0
		case panelShares:
			// Early samples can be far sharper than data (noise): keep the
			// [0, 1] figures readable, cutting the axis at 2.
			p.Y.Min, p.Y.Max = 0, max(1.05, min(p.Y.Max, 2))
			p.Y.Label.Text = "share / ratio"
		default:
			p.Y.Label.Text = "loss"
			setLogScale(p, all)
		}
		y1 := height - panelHeight*vg.Length(row)
		area := vg.Rectangle{Min: vg.Point{Y: y1 - panelHeight}, Max: vg.Point{X: plotWidth - legendWidth, Y: y1}}
		p.Draw(draw.Canvas{Canvas: dc.Canvas, Rectangle: area})
		legend.Top, legend.Left = true, true
		legend.Draw(draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: plotWidth - legendWidth, Y: y1 - panelHeight}, Max: vg.Point{X: plotWidth, Y: y1 - vg.Points(20)}}})
	}
	return writeFileAtomic(pngPath, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

// rollingMean returns the mean of each point's window of w points ending
// at it (fewer at the start).
func rollingMean(s plotter.XYs, w int) plotter.XYs {
	out := make(plotter.XYs, len(s))
	sum := 0.0
	for i, pt := range s {
		sum += pt.Y
		if i >= w {
			sum -= s[i-w].Y
		}
		out[i] = plotter.XY{X: pt.X, Y: sum / float64(min(i+1, w))}
	}
	return out
}

// setLogScale makes p's y axis logarithmic when every value of pts is
// positive and they span at least a factor of 10.
func setLogScale(p *plot.Plot, pts plotter.XYs) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, pt := range pts {
		lo, hi = min(lo, pt.Y), max(hi, pt.Y)
	}
	if lo > 0 && hi >= 10*lo {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
}

// PlotLog draws every column of a log written by LossLog against step on
// one axis, one colour per column, with the given title and y-axis label,
// as a 768×480 PNG at pngPath (the quality log).
func PlotLog(csvPath, pngPath, title, yLabel string) error {
	names, series, err := readLossCSV(csvPath)
	if err != nil {
		return err
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	var all plotter.XYs
	for i, s := range series {
		if len(s) == 0 {
			continue
		}
		all = append(all, s...)
		line, err := plotter.NewLine(s)
		if err != nil {
			return fmt.Errorf("report: plotting %s column %q: %w", csvPath, names[i], err)
		}
		line.Color = seriesColors[i%len(seriesColors)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(names[i], line)
	}
	setLogScale(p, all)
	c := vgimg.PngCanvas{Canvas: vgimg.New(plotWidth, plotHeight)}
	p.Draw(draw.New(c))
	return writeFileAtomic(pngPath, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

// errNoRows is readLossCSV's error for a log with a header and no rows.
var errNoRows = errors.New("has no rows")

// readLossCSV reads a loss log and returns the loss names and, for each, its
// finite (step, value) points.
func readLossCSV(path string) ([]string, []plotter.XYs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("report: plotting losses: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("report: plotting losses: reading header of %s: %w", path, err)
	}
	nc := len(header)
	if nc < 4 || header[0] != "step" || header[1] != "epoch" || header[nc-1] != "images_per_sec" {
		return nil, nil, fmt.Errorf("report: plotting losses: %s has header %q, want step,epoch,<loss names...>,images_per_sec", path, header)
	}
	names := append([]string(nil), header[2:nc-1]...)
	series := make([]plotter.XYs, len(names))
	rows := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("report: plotting losses: reading %s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		step, err := strconv.ParseFloat(rec[0], 64)
		if err != nil {
			return nil, nil, fmt.Errorf("report: plotting losses: %s line %d: step %q is not a number", path, line, rec[0])
		}
		for i := range names {
			v, err := strconv.ParseFloat(rec[2+i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("report: plotting losses: %s line %d: %s value %q is not a number", path, line, names[i], rec[2+i])
			}
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				series[i] = append(series[i], plotter.XY{X: step, Y: v})
			}
		}
		rows++
	}
	if rows == 0 {
		return nil, nil, fmt.Errorf("report: plotting losses: %s %w", path, errNoRows)
	}
	return names, series, nil
}
