package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Record kinds.
const (
	kindPeak = "peak" // a large SGEMM through Backend.Gemm (PyTorch: torch.mm)
	kindOp   = "op"   // one backend operation at one layer's shape
	kindStep = "step" // one round of training steps
)

// record is one measurement.
type record struct {
	Kind    string `json:"kind"`
	Device  string `json:"device"`  // "cpu", "cuda", "cuda-op" (the GPU op by op, no CUDA graph) or "pytorch"
	Backend string `json:"backend"` // the backend's own description
	Arch    string `json:"arch,omitempty"`
	Model   string `json:"model,omitempty"`
	Batch   int    `json:"batch,omitempty"`
	Threads int    `json:"threads"`
	Op      string `json:"op,omitempty"`
	Shape   string `json:"shape,omitempty"`
	Round   int    `json:"round,omitempty"` // steps: 1, 2, … in the order run
	// NS is the median time of one call or one step, in nanoseconds.
	NS              float64 `json:"ns"`
	ImagesPerSecond float64 `json:"images_per_second,omitempty"`
	FLOP            float64 `json:"flop,omitempty"`   // per call or per step
	GFLOPs          float64 `json:"gflops,omitempty"` // achieved GFLOP/s
	GBps            float64 `json:"gbps,omitempty"`   // achieved GB/s (memory-bound ops)
	// ShareOfPeak is GFLOPs over the device's measured SGEMM rate.
	ShareOfPeak float64 `json:"share_of_peak,omitempty"`
}

// key identifies the measurements that a later run of the same
// configuration replaces.
func (r record) key() string {
	return fmt.Sprint(r.Kind, "|", r.Device, "|", r.Arch, "|", r.Model, "|", r.Batch, "|", r.Threads)
}

// machine describes where and how the results were measured.
type machine struct {
	Date  string `json:"date"`
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
	Go    string `json:"go"`
	Torch string `json:"torch,omitempty"`
	// OMPWaitPolicy is OMP_WAIT_POLICY for both OpenMP runtimes (-omp-wait).
	OMPWaitPolicy string `json:"omp_wait_policy"`
	// Load is the 1-minute load average at the start and at the end.
	Load    string `json:"load"`
	Command string `json:"command"`
}

// results is the content of bench.json.
type results struct {
	Machine machine  `json:"machine"`
	Records []record `json:"records"`
}

// merge returns old's records that no record of new replaces, then new's.
func merge(old, new []record) []record {
	replaced := map[string]bool{}
	for _, r := range new {
		replaced[r.key()] = true
	}
	var out []record
	for _, r := range old {
		if !replaced[r.key()] {
			out = append(out, r)
		}
	}
	return append(out, new...)
}

// readResults reads a previous bench.json; a missing file is no results.
func readResults(path string) (results, error) {
	var res results
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, fmt.Errorf("%s: %w (delete it or pick another -out)", path, err)
	}
	return res, nil
}

// writeResults merges this run's results into dir's bench.json and
// rewrites bench.json, bench.md and bench.png from the merged records.
func writeResults(dir string, run results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	jsonPath := filepath.Join(dir, "bench.json")
	old, err := readResults(jsonPath)
	if err != nil {
		return err
	}
	all := results{Machine: run.Machine, Records: merge(old.Records, run.Records)}
	data, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(data, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	writeMarkdown(&md, all)
	if err := os.WriteFile(filepath.Join(dir, "bench.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	return writeChart(filepath.Join(dir, "bench.png"), all.Records)
}

// devices lists the devices of recs in the order cpu, cuda, cuda-op,
// pytorch.
func devices(recs []record) []string {
	var ds []string
	for _, d := range []string{"cpu", "cuda", "cuda-op", "pytorch"} {
		if slices.ContainsFunc(recs, func(r record) bool { return r.Device == d }) {
			ds = append(ds, d)
		}
	}
	return ds
}

// groups splits recs by key, keeping the order of first appearance.
func groups(recs []record, key func(record) string) (keys []string, by map[string][]record) {
	by = map[string][]record{}
	for _, r := range recs {
		k := key(r)
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], r)
	}
	return keys, by
}

func ofKind(recs []record, kind string) []record {
	var out []record
	for _, r := range recs {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// stepSummary is the median over rounds of one configuration's steps.
type stepSummary struct {
	record                   // the first round, for the configuration
	rounds         []float64 // images/s of each round
	ips, ns, share float64
}

func summarizeSteps(recs []record) []stepSummary {
	keys, by := groups(ofKind(recs, kindStep), func(r record) string {
		return fmt.Sprint(r.Arch, "|", r.Model, "|", r.Batch, "|", r.Threads, "|", r.Device)
	})
	var out []stepSummary
	for _, k := range keys {
		rs := by[k]
		s := stepSummary{record: rs[0]}
		var ns, share []float64
		for _, r := range rs {
			s.rounds = append(s.rounds, r.ImagesPerSecond)
			ns = append(ns, r.NS)
			share = append(share, r.ShareOfPeak)
		}
		s.ips = median(slices.Clone(s.rounds))
		s.ns, s.share = median(ns), median(share)
		out = append(out, s)
	}
	return out
}

// torchRatio is the configuration's images/s over PyTorch's (0 when there
// is no PyTorch measurement of it).
func torchRatio(s stepSummary, all []stepSummary) float64 {
	for _, t := range all {
		if t.Device == "pytorch" && t.Arch == s.Arch && t.Model == s.Model && t.Batch == s.Batch && t.Threads == s.Threads {
			return s.ips / t.ips
		}
	}
	return 0
}

func pct(x float64) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

func rateString(r record) string {
	if r.GFLOPs > 0 {
		return fmt.Sprintf("%.1f GFLOP/s", r.GFLOPs)
	}
	return fmt.Sprintf("%.2f GB/s", r.GBps)
}

// writeMarkdown writes the tables of res: peaks, training steps, and per
// architecture the ops.
func writeMarkdown(w io.Writer, res results) {
	m := res.Machine
	fmt.Fprintf(w, "# Benchmarks\n\n%s; %s, %d cores; %s", m.Date, m.CPU, m.Cores, m.Go)
	if m.Torch != "" {
		fmt.Fprintf(w, "; %s", m.Torch)
	}
	fmt.Fprintf(w, "; OMP_WAIT_POLICY %s; load average %s.\nLast command: `%s`.\n", m.OMPWaitPolicy, m.Load, m.Command)

	fmt.Fprintf(w, "\n## Peak: SGEMM 2048³\n\nMeasured at the start of the run of each -arch; the shares of peak of that run divide by it.\n\n"+
		"| -arch | device | backend | threads | GFLOP/s |\n|---|---|---|---|---|\n")
	for _, r := range ofKind(res.Records, kindPeak) {
		fmt.Fprintf(w, "| %s | %s | %s | %d | %.1f |\n", r.Arch, r.Device, r.Backend, r.Threads, r.GFLOPs)
	}

	steps := summarizeSteps(res.Records)
	if len(steps) > 0 {
		fmt.Fprintf(w, "\n## Training step\n\nMedian over rounds of each round's median step; "+
			"GFLOP/step counts the matrix products and convolutions of one step of the Go trainer.\n\n"+
			"| arch | model | batch | threads | device | images/s | ms/step | GFLOP/step | GFLOP/s | share of peak | ours/PyTorch | images/s per round |\n"+
			"|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, s := range steps {
			ratio := "–"
			if q := torchRatio(s, steps); s.Device != "pytorch" && q > 0 {
				ratio = fmt.Sprintf("%.2f", q)
			}
			var rounds []string
			for _, x := range s.rounds {
				rounds = append(rounds, fmt.Sprintf("%.1f", x))
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %.1f | %.0f | %.1f | %.1f | %s | %s | %s |\n",
				s.Arch, s.Model, s.Batch, s.Threads, s.Device, s.ips, s.ns/1e6, s.FLOP/1e9,
				s.FLOP/s.ns, pct(s.share), ratio, strings.Join(rounds, ", "))
		}
	}

	ops := ofKind(res.Records, kindOp)
	keys, by := groups(ops, func(r record) string { return fmt.Sprint(r.Arch, "|", r.Batch, "|", r.Threads) })
	for _, k := range keys {
		writeOps(w, by[k])
	}
}

// writeOps writes the table of one architecture's ops, one column group per
// device.
func writeOps(w io.Writer, recs []record) {
	devs := devices(recs)
	r0 := recs[0]
	fmt.Fprintf(w, "\n## Ops: %s, batch %d, %d threads\n\n"+
		"Median time of one call; rate in GFLOP/s (or GB/s for memory-bound ops) and its share of the device's SGEMM peak.\n\n| op | shape |",
		r0.Arch, r0.Batch, r0.Threads)
	sep := "|---|---|"
	for _, d := range devs {
		fmt.Fprintf(w, " %s ms | %s rate | %s share |", d, d, d)
		sep += "---|---|---|"
	}
	if len(devs) == 2 {
		fmt.Fprintf(w, " speedup |")
		sep += "---|"
	}
	fmt.Fprintf(w, "\n%s\n", sep)
	names, by := groups(recs, func(r record) string { return r.Op })
	for _, name := range names {
		rs := by[name]
		fmt.Fprintf(w, "| %s | %s |", name, rs[0].Shape)
		ns := map[string]float64{}
		for _, d := range devs {
			i := slices.IndexFunc(rs, func(r record) bool { return r.Device == d })
			if i < 0 {
				fmt.Fprintf(w, " – | – | – |")
				continue
			}
			ns[d] = rs[i].NS
			fmt.Fprintf(w, " %.3f | %s | %s |", rs[i].NS/1e6, rateString(rs[i]), pct(rs[i].ShareOfPeak))
		}
		if len(devs) == 2 {
			if a, b := ns[devs[0]], ns[devs[1]]; a > 0 && b > 0 {
				fmt.Fprintf(w, " %.1f× |", a/b)
			} else {
				fmt.Fprintf(w, " – |")
			}
		}
		fmt.Fprintln(w)
	}
}

// writeChart draws one panel per architecture: images/s of each model's
// training step, one bar per device.
func writeChart(path string, recs []record) error {
	steps := summarizeSteps(recs)
	if len(steps) == 0 {
		return nil
	}
	var archs []string
	byArch := map[string][]stepSummary{}
	for _, s := range steps {
		if byArch[s.Arch] == nil {
			archs = append(archs, s.Arch)
		}
		byArch[s.Arch] = append(byArch[s.Arch], s)
	}
	row := make([]*plot.Plot, len(archs))
	for i, arch := range archs {
		p, err := stepPanel(arch, byArch[arch])
		if err != nil {
			return err
		}
		row[i] = p
	}
	const w, h = 4 * vg.Inch, 3 * vg.Inch
	img := vgimg.New(vg.Length(len(row))*w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(row)}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
	for i, p := range row {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// stepPanel is the bar chart of one architecture's steps: models along x,
// one bar per device.
func stepPanel(arch string, steps []stepSummary) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = arch + ": training step"
	p.Y.Label.Text = "images/s"
	var models []string
	for _, s := range steps {
		if !slices.Contains(models, s.Model) {
			models = append(models, s.Model)
		}
	}
	var ds []string
	for _, s := range steps {
		if !slices.Contains(ds, s.Device) {
			ds = append(ds, s.Device)
		}
	}
	const width = 14
	for i, d := range ds {
		vals := make(plotter.Values, len(models))
		for _, s := range steps {
			if s.Device == d {
				vals[slices.Index(models, s.Model)] = s.ips
			}
		}
		bars, err := plotter.NewBarChart(vals, vg.Points(width))
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = vg.Points(width * (float64(i) - float64(len(ds)-1)/2))
		p.Add(bars)
		p.Legend.Add(d, bars)
	}
	p.Legend.Top = true
	p.NominalX(models...)
	return p, nil
}
