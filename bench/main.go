package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/vaegan-go/vaegan/model"
)

// config is the command line.
type config struct {
	device, arch, model       string
	batch, threads            int
	steps, rounds             int
	ops, torch, json          bool
	roofline                  bool // -roofline: print the H100 estimate only
	ranks                     int  // -ranks: measure data-parallel scaling up to this many ranks
	rankWorker                bool // run as one rank of a -ranks measurement (under mpirun)
	out, ompWait, torchDevice string
	python                    string // -python: the interpreter that runs torch_step.py
}

// parseFlags reads the command line. Unless -torch is given, it is on when
// hasTorch(the -python interpreter) says that interpreter imports torch.
func parseFlags(args []string, hasTorch func(python string) bool) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.device, "device", "cpu", "devices to measure: cpu, cuda or all")
	fs.StringVar(&c.arch, "arch", "mnist", "architecture: mnist, celeba64 or all")
	fs.StringVar(&c.model, "model", model.VAEGAN, "model: "+strings.Join(model.ModelNames(), ", ")+" or all")
	fs.IntVar(&c.batch, "batch", 64, "images per training step")
	fs.IntVar(&c.threads, "threads", runtime.NumCPU(), "CPU threads, for the cpu backend and for PyTorch")
	fs.IntVar(&c.steps, "steps", 0, "timed training steps per round, after one warm-up step; 0: as many as fit in about 10 s on the slowest side (2 to 10)")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds of steps per device, alternating with PyTorch's")
	fs.BoolVar(&c.ops, "ops", true, "measure every op at the architecture's shapes")
	fs.BoolVar(&c.torch, "torch", false, "time the same step in PyTorch (default: on when -python imports torch)")
	fs.StringVar(&c.python, "python", defaultPython, "the Python interpreter with torch (for -torch-device cuda, one whose torch has CUDA)")
	fs.StringVar(&c.torchDevice, "torch-device", "cpu", "where PyTorch runs its step: cpu or cuda (a CUDA build of torch on the GPU the cuda backend uses)")
	fs.StringVar(&c.out, "out", "bench/results", "folder for bench.md, bench.json and bench.png")
	fs.StringVar(&c.ompWait, "omp-wait", "passive", "OMP_WAIT_POLICY for OpenMP in this process (OpenBLAS) and in PyTorch's: passive or active")
	fs.BoolVar(&c.json, "json", false, "print only this run's JSON on stdout")
	fs.BoolVar(&c.roofline, "roofline", false, "print a roofline estimate of every op of -arch on an H100 (FLOPs and bytes against its peak rates; no measurement) and write roofline.md under -out")
	fs.IntVar(&c.ranks, "ranks", 0, "measure data-parallel training with 1 to N MPI ranks (CPU, threads split between them) and the all-reduce's bandwidth\ninto scaling.md; needs go run -tags mpi")
	fs.BoolVar(&c.rankWorker, "rank-worker", false, "internal: one rank of a -ranks measurement, started by mpirun")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	torchGiven := false
	fs.Visit(func(f *flag.Flag) { torchGiven = torchGiven || f.Name == "torch" })
	if !torchGiven {
		c.torch = hasTorch(c.python)
	}
	for _, f := range []struct {
		name string
		v    int
		min  int
	}{{"batch", c.batch, 2}, {"threads", c.threads, 1}, {"steps", c.steps, 0}, {"rounds", c.rounds, 1}} {
		if f.v < f.min {
			return c, fmt.Errorf("-%s %d: want at least %d", f.name, f.v, f.min)
		}
	}
	if c.ompWait != "passive" && c.ompWait != "active" {
		return c, fmt.Errorf("-omp-wait %q: want passive or active", c.ompWait)
	}
	if c.torchDevice != "cpu" && c.torchDevice != "cuda" {
		return c, fmt.Errorf("-torch-device %q: want cpu or cuda", c.torchDevice)
	}
	if !slices.Contains([]string{"cpu", "cuda", "all"}, c.device) {
		return c, fmt.Errorf("-device %q: want cpu, cuda or all", c.device)
	}
	if c.arch != "all" {
		if _, err := lookupArch(c.arch); err != nil {
			return c, fmt.Errorf("-arch: %w", err)
		}
	}
	if c.model != "all" && !slices.Contains(model.ModelNames(), c.model) {
		return c, fmt.Errorf("-model %q: want one of %s or all", c.model, strings.Join(model.ModelNames(), ", "))
	}
	return c, nil
}

// archNames are the architectures -arch names: one, or both for all.
func (c config) archNames() []string {
	if c.arch == "all" {
		return []string{"mnist", "celeba64"}
	}
	return []string{c.arch}
}

func main() {
	c, err := parseFlags(os.Args[1:], torchAvailable)
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	switch {
	case c.roofline:
		err = roofline(c)
	case c.rankWorker:
		err = rankWorker(c)
	case c.ranks > 0:
		err = measureRanks(c)
	default:
		err = run(c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// logf reports progress on stderr.
func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func run(c config) error {
	// Before any OpenMP runtime starts: OpenBLAS is loaded by the first
	// cpu.New, and the PyTorch subprocess inherits the environment.
	os.Setenv("OMP_WAIT_POLICY", strings.ToUpper(c.ompWait))
	load := loadAverage()
	devs, err := openDevices(c.device, c.threads)
	if err != nil {
		return err
	}
	defer func() {
		for _, d := range devs {
			d.close()
		}
	}()
	archNames, models := c.archNames(), []string{c.model}
	if c.model == "all" {
		models = model.ModelNames()
	}
	res := results{Machine: machine{Date: time.Now().Format(time.DateTime), CPU: cpuModel(),
		Cores: runtime.NumCPU(), Go: runtime.Version(), OMPWaitPolicy: c.ompWait, Command: "go run ./bench " + strings.Join(os.Args[1:], " ")}}

	peakRecs, peak := measurePeaks(c, devs)
	res.Records = append(res.Records, peakRecs...)
	var torch *torchInfo // PyTorch's setup, once it ran
	for _, arch := range archNames {
		a, _ := lookupArch(arch)
		if c.ops {
			res.Records = append(res.Records, measureOps(c, devs, peak, a)...)
		}
		for _, m := range models {
			recs, info, err := measureSteps(c, devs, peak, arch, m)
			if err != nil {
				return err
			}
			res.Records = append(res.Records, recs...)
			if info != nil {
				torch = info
			}
		}
	}
	if torch != nil {
		const flop = 2 * 2048 * 2048 * 2048
		res.Machine.Torch = torch.name()
		res.Records = append(res.Records, record{Kind: kindPeak, Device: "pytorch", Backend: torch.name(),
			Arch: c.arch, Threads: c.threads, Op: "torch.mm 2048³", NS: flop / torch.GemmGFLOPs, FLOP: flop,
			GFLOPs: torch.GemmGFLOPs, ShareOfPeak: 1})
	}

	res.Machine.Load = load + " → " + loadAverage()
	if err := writeResults(c.out, res); err != nil {
		return fmt.Errorf("-out %s: %w", c.out, err)
	}
	if c.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	writeMarkdown(os.Stdout, res)
	logf("wrote %s/bench.md, bench.json, bench.png", c.out)
	return nil
}

// measurePeaks times a 2048³ SGEMM through each device's Gemm and returns
// the records (their Arch is -arch: the run whose shares of peak they are
// the base of) and the rates in GFLOP/s by device.
func measurePeaks(c config, devs []device) ([]record, map[string]float64) {
	var recs []record
	peak := map[string]float64{}
	for _, d := range devs {
		if d.stepsOnly { // after the device it runs on
			peak[d.name] = peak["cuda"]
			continue
		}
		g := gemmOp(2048)
		ns := timeOp(d.b, g, 5, time.Second)[0] // the best call: a peak
		peak[d.name] = g.rate(ns)
		recs = append(recs, record{Kind: kindPeak, Device: d.name, Backend: d.b.Name(), Arch: c.arch, Threads: threadsOf(d, c),
			Op: g.name, Shape: g.shape, NS: ns, FLOP: g.flop, GFLOPs: peak[d.name], ShareOfPeak: 1})
		logf("%s: %s %.1f GFLOP/s", d.b.Name(), g.name, peak[d.name])
	}
	return recs, peak
}

// measureOps times every op of a step of architecture a on every device:
// the median of at least 3 calls and 0.2 s.
func measureOps(c config, devs []device, peak map[string]float64, a *archSpec) []record {
	var recs []record
	for _, o := range archOps(a, c.batch) {
		for _, d := range devs {
			if d.stepsOnly {
				continue
			}
			ns := median(timeOp(d.b, o, 3, 200*time.Millisecond))
			r := record{Kind: kindOp, Device: d.name, Backend: d.b.Name(), Arch: a.name, Batch: c.batch,
				Threads: threadsOf(d, c), Op: o.name, Shape: o.shape, NS: ns, FLOP: o.flop}
			if o.flop > 0 {
				r.GFLOPs, r.ShareOfPeak = o.rate(ns), o.rate(ns)/peak[d.name]
			} else {
				r.GBps = o.rate(ns)
			}
			recs = append(recs, r)
			logf("%s %s %-28s %10.3f ms  %s", d.name, a.name, o.name, ns/1e6, rateString(r))
		}
	}
	return recs
}

// threadsOf is the thread count a device runs with (0 for a GPU).
func threadsOf(d device, c config) int {
	if d.name == "cpu" {
		return c.threads
	}
	return 0
}

// measureSteps times c.rounds rounds of c.steps training steps of one model
// on every device and, when c.torch is set, in PyTorch, alternating them so
// that drift of the machine's speed hits all alike. It returns one record
// per device and round, and PyTorch's setup when it ran.
func measureSteps(c config, devs []device, peak map[string]float64, arch, mdl string) ([]record, *torchInfo, error) {
	steppers := make([]*stepper, len(devs))
	var flop, slowest float64 // slowest: the longest warm-up step, ns
	for i, d := range devs {
		s, err := newStepper(d.b, arch, mdl, c.batch)
		if err != nil {
			return nil, nil, err
		}
		defer s.free()
		steppers[i], flop = s, s.flop
		slowest = max(slowest, s.warmup)
	}
	var t *torchRunner
	if c.torch {
		var err error
		if t, err = startTorch(c.python, arch, mdl, c.torchDevice, c.batch, c.threads); err != nil {
			return nil, nil, err
		}
		defer t.close()
		warm, err := t.steps(1)
		if err != nil {
			return nil, nil, err
		}
		slowest = max(slowest, warm[0])
		peak["pytorch"] = t.info.GemmGFLOPs
	}
	steps := c.steps
	if steps == 0 {
		steps = autoSteps(slowest)
		logf("%s %s: %d steps per round", arch, mdl, steps)
	}
	base := record{Kind: kindStep, Arch: arch, Model: mdl, Batch: c.batch, FLOP: flop}
	finish := func(r record, ns float64) record {
		r.NS, r.ImagesPerSecond, r.GFLOPs = ns, float64(c.batch)/(ns/1e9), flop/ns
		r.ShareOfPeak = r.GFLOPs / peak[r.Device]
		logf("%s %s %s round %d: %.1f images/s (%.0f ms/step)", r.Device, arch, mdl, r.Round, r.ImagesPerSecond, ns/1e6)
		return r
	}
	var recs []record
	for round := 1; round <= c.rounds; round++ {
		for i, d := range devs {
			ns, err := steppers[i].time(steps)
			if err != nil {
				return nil, nil, err
			}
			r := base
			r.Device, r.Backend, r.Threads, r.Round = d.name, d.b.Name(), threadsOf(d, c), round
			recs = append(recs, finish(r, ns))
		}
		if t != nil {
			times, err := t.steps(steps)
			if err != nil {
				return nil, nil, err
			}
			r := base
			r.Device, r.Backend, r.Threads, r.Round = "pytorch", t.info.name(), c.threads, round
			recs = append(recs, finish(r, median(times)))
		}
	}
	if t == nil {
		return recs, nil, nil
	}
	return recs, &t.info, nil
}

// autoSteps is the number of steps per round for -steps 0: about 10 s of
// steps that take ns nanoseconds, at least 2 (a median needs more than one)
// and at most 10.
func autoSteps(ns float64) int {
	return int(min(max(10e9/ns, 2), 10))
}

// cpuModel is the "model name" line of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// loadAverage is the machine's 1-minute load average, from /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}
