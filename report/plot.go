package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Size of the loss plot: 8×5 inches, which is 768×480 pixels at the 96 dpi of
// vgimg.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 5 * vg.Inch
)

// PlotLosses reads a loss log CSV written by LossLog and draws every loss
// column against step as a PNG at pngPath (768×480 pixels), one line per
// loss with a legend, replacing any existing file atomically. Non-finite
// values are left out. The y axis is logarithmic when every plotted value is
// positive and they span at least a factor of 10.
func PlotLosses(csvPath, pngPath string) error {
	return PlotLog(csvPath, pngPath, "Training losses", "loss")
}

// PlotLog draws a log written by LossLog as PlotLosses does, with the given
// title and y-axis label.
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
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, pt := range s {
			lo, hi = min(lo, pt.Y), max(hi, pt.Y)
		}
	}
	if lo > 0 && hi >= 10*lo {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	for i, s := range series {
		if len(s) == 0 {
			continue
		}
		line, err := plotter.NewLine(s)
		if err != nil {
			return fmt.Errorf("report: plotting %s column %q: %w", csvPath, names[i], err)
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(names[i], line)
	}
	c := vgimg.PngCanvas{Canvas: vgimg.New(plotWidth, plotHeight)}
	p.Draw(draw.New(c))
	return writeFileAtomic(pngPath, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

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
		return nil, nil, fmt.Errorf("report: plotting losses: %s has no rows", path)
	}
	return names, series, nil
}
