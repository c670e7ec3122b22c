package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/model"
)

// callRecorder is a Backend that notes each matrix product and convolution
// it passes on, by kind and shape.
type callRecorder struct {
	backend.Backend
	calls map[string]bool
}

func (c *callRecorder) Gemm(transA, transB bool, m, n, k int, alpha float32, a, b backend.Tensor, beta float32, d backend.Tensor) {
	c.calls[gemmCall(transA, transB, m, n, k)] = true
	c.Backend.Gemm(transA, transB, m, n, k, alpha, a, b, beta, d)
}

func (c *callRecorder) ConvForward(g backend.ConvGeom, x, w, y backend.Tensor) {
	c.calls[convCall("fwd", g)] = true
	c.Backend.ConvForward(g, x, w, y)
}

func (c *callRecorder) ConvBackwardData(g backend.ConvGeom, dy, w, dx backend.Tensor) {
	c.calls[convCall("data", g)] = true
	c.Backend.ConvBackwardData(g, dy, w, dx)
}

func (c *callRecorder) ConvBackwardFilter(g backend.ConvGeom, x, dy, dw backend.Tensor) {
	c.calls[convCall("filter", g)] = true
	c.Backend.ConvBackwardFilter(g, x, dy, dw)
}

func gemmCall(transA, transB bool, m, n, k int) string {
	return fmt.Sprintf("gemm %v %v %d %d %d", transA, transB, m, n, k)
}

func convCall(kind string, g backend.ConvGeom) string { return fmt.Sprintf("conv %s %+v", kind, g) }

// tableCalls maps each call signature the layer table's ops make at batch
// size batch to the op's name.
func tableCalls(a *archSpec, batch int) map[string]string {
	calls := map[string]string{}
	for _, l := range a.layers {
		n, nd := l.rows*batch, l.dataRows*batch
		names := []string{l.Name + " fwd", l.Name + " bwd data", l.Name + " bwd filter"}
		if l.Kind == model.Linear {
			calls[gemmCall(false, true, n, l.Out, l.In)] = names[0]
			calls[gemmCall(false, false, nd, l.In, l.Out)] = names[1]
			calls[gemmCall(true, false, l.Out, l.In, n)] = names[2]
			continue
		}
		fwd, data := "fwd", "data"
		if l.Kind == model.ConvTranspose {
			fwd, data = data, fwd
		}
		calls[convCall(fwd, l.Geom(n))] = names[0]
		calls[convCall(data, l.Geom(nd))] = names[1]
		calls[convCall("filter", l.Geom(n))] = names[2]
		if l.dataRows != l.rows {
			// The encoder's data gradient: the reconstructions alone.
			calls[convCall(data, l.Geom(batch))] = l.Name + " bwd data (encoder)"
		}
	}
	return calls
}

// TestTableMatchesModel checks the layer table against what a real VAE-GAN
// step calls: every product and convolution of the step is one of the
// table's ops, every op but the encoder's first data gradient (the input
// needs none) occurs, and the parameter counts match.
func TestTableMatchesModel(t *testing.T) {
	const batch = 2
	for _, a := range archs {
		rec := &callRecorder{Backend: cpu.New(2), calls: map[string]bool{}}
		tr, err := model.NewTrainer(rec, trainerConfig(a.name, model.VAEGAN, batch))
		if err != nil {
			t.Fatal(err)
		}
		x := hostRandom(1, -1, 1, batch*tr.Arch.ImageLen())
		if _, err := tr.Step(x); err != nil {
			t.Fatal(err)
		}
		table := tableCalls(&a, batch)
		for call := range rec.calls {
			if _, ok := table[call]; !ok {
				t.Errorf("%s: the step calls %s, which no op of the table does", a.name, call)
			}
		}
		for call, name := range table {
			if !rec.calls[call] && name != "enc.conv1 bwd data" {
				t.Errorf("%s: op %s (%s) is not part of a step", a.name, name, call)
			}
		}
		for _, c := range []struct {
			net string
			ps  *model.ParamSet
		}{{"enc", &tr.Nets.Enc}, {"dec", &tr.Nets.Dec}, {"dis", &tr.Nets.Dis}} {
			if got, want := a.netParams(c.net), c.ps.Size(); got != want {
				t.Errorf("%s: the table gives %s %d parameters, the model %d", a.name, c.net, got, want)
			}
		}
	}
}

// TestOpsRun runs every op of both architectures once at batch 2 on the
// CPU: each must set up and run without a shape mismatch.
func TestOpsRun(t *testing.T) {
	b := cpu.New(2)
	for _, a := range archs {
		for _, o := range archOps(&a, 2) {
			o.setup(b)()
		}
	}
}

// TestFlopCounter checks the count of one Gemm and one convolution.
func TestFlopCounter(t *testing.T) {
	c := &flopCounter{Backend: cpu.New(1)}
	c.Gemm(false, false, 2, 3, 4, 1, c.New(2, 4), c.New(4, 3), 0, c.New(2, 3))
	g := backend.NewConvGeom(2, 3, 8, 8, 5, 3, 1, 1) // 8×8 output
	c.ConvForward(g, c.New(2, 3, 8, 8), c.New(5, 3, 3, 3), c.New(2, 5, 8, 8))
	if want := 2.0*2*3*4 + 2.0*2*5*3*9*64; c.flop != want {
		t.Errorf("counted %v FLOP, want %v", c.flop, want)
	}
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-batch", "1"}, "-batch 1"},
		{[]string{"-threads", "0"}, "-threads 0"},
		{[]string{"-steps", "-1"}, "-steps -1"},
		{[]string{"-device", "tpu"}, `-device "tpu"`},
		{[]string{"-arch", "cifar"}, `"cifar"`},
		{[]string{"-model", "dcgan"}, `-model "dcgan"`},
		{[]string{"extra"}, `"extra"`},
		{[]string{"-omp-wait", "spin"}, `-omp-wait "spin"`},
	} {
		_, err := parseFlags(tc.args, noTorch)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %s", tc.args, err, tc.want)
		}
	}
	c, err := parseFlags([]string{"-arch", "all", "-model", "all", "-batch", "8"}, noTorch)
	if err != nil || c.batch != 8 || c.arch != "all" {
		t.Errorf("valid flags: %+v, %v", c, err)
	}
	// -torch defaults to whether the -python interpreter imports torch.
	onlyCUDA := func(python string) bool { return python == "/opt/cuda-torch/python" }
	for _, tc := range []struct {
		args  []string
		torch bool
	}{
		{nil, false},
		{[]string{"-python", "/opt/cuda-torch/python"}, true},
		{[]string{"-python", "/opt/cuda-torch/python", "-torch=false"}, false},
		{[]string{"-torch"}, true},
	} {
		c, err := parseFlags(tc.args, onlyCUDA)
		if err != nil || c.torch != tc.torch {
			t.Errorf("%v: torch %v (%v), want %v", tc.args, c.torch, err, tc.torch)
		}
	}
}

// noTorch is a stand-in for torchAvailable: no interpreter imports torch.
func noTorch(string) bool { return false }

func TestAutoSteps(t *testing.T) {
	for _, c := range []struct {
		ms   float64 // warm-up step
		want int
	}{{0.5, 10}, {1000, 10}, {2000, 5}, {3000, 3}, {9000, 2}, {60000, 2}} {
		if got := autoSteps(c.ms * 1e6); got != c.want {
			t.Errorf("autoSteps(%v ms) = %d, want %d", c.ms, got, c.want)
		}
	}
}

// TestWriteResults writes two runs into one folder and checks the merged
// JSON, the PyTorch ratio in the Markdown and the PNG.
func TestWriteResults(t *testing.T) {
	dir := t.TempDir()
	step := func(dev, arch string, round int, ips float64) record {
		return record{Kind: kindStep, Device: dev, Arch: arch, Model: "vaegan", Batch: 64, Threads: 2,
			Round: round, NS: 64 / ips * 1e9, ImagesPerSecond: ips, FLOP: 1e9, GFLOPs: ips / 64, ShareOfPeak: 0.5}
	}
	first := results{Machine: machine{Command: "first"}, Records: []record{
		{Kind: kindPeak, Device: "cpu", Arch: "mnist", Threads: 2, GFLOPs: 100, ShareOfPeak: 1},
		step("cpu", "mnist", 1, 90), step("cpu", "mnist", 2, 300), step("cpu", "mnist", 3, 100),
		step("pytorch", "mnist", 1, 50), step("pytorch", "mnist", 2, 40), step("pytorch", "mnist", 3, 60),
		{Kind: kindOp, Device: "cpu", Arch: "mnist", Batch: 64, Threads: 2, Op: "enc.conv1 fwd", NS: 2e6, GFLOPs: 12.5, ShareOfPeak: 0.125},
	}}
	second := results{Machine: machine{Command: "second"}, Records: []record{
		{Kind: kindPeak, Device: "cpu", Arch: "celeba64", Threads: 2, GFLOPs: 90, ShareOfPeak: 1},
		step("cpu", "celeba64", 1, 6), step("cpu", "mnist", 1, 200),
	}}
	for _, r := range []results{first, second} {
		if err := writeResults(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	res, err := readResults(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The second run's cpu mnist round replaces the first run's three.
	if got, want := len(res.Records), 1+3+1+1+2; got != want {
		t.Errorf("%d merged records, want %d", got, want)
	}
	md, err := os.ReadFile(filepath.Join(dir, "bench.md"))
	if err != nil {
		t.Fatal(err)
	}
	// cpu mnist: 200 images/s against PyTorch's median of 50.
	if row := "| mnist | vaegan | 64 | 2 | cpu | 200.0 | 320 | 1.0 | 3.1 | 50% | 4.00 | 200.0 |"; !bytes.Contains(md, []byte(row)) {
		t.Errorf("bench.md lacks the row\n%s\n%s", row, md)
	}
	if !bytes.Contains(md, []byte("| mnist | cpu |  | 2 | 100.0 |")) || !bytes.Contains(md, []byte("| celeba64 | cpu |  | 2 | 90.0 |")) {
		t.Errorf("bench.md lacks a peak of each run:\n%s", md)
	}
	if !bytes.Contains(md, []byte("| enc.conv1 fwd |  | 2.000 | 12.5 GFLOP/s | 12% |")) {
		t.Errorf("bench.md lacks the op row:\n%s", md)
	}
	f, err := os.Open(filepath.Join(dir, "bench.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w < 100 {
		t.Errorf("bench.png is %d pixels wide", w)
	}
	var raw map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err := json.Unmarshal(data, &raw); err != nil || raw["machine"] == nil {
		t.Errorf("bench.json: %v", err)
	}
}

// TestTorchStep runs one step of each model in torch_step.py.
func TestTorchStep(t *testing.T) {
	if !torchAvailable(defaultPython) {
		t.Skip(defaultPython + " cannot import torch")
	}
	t.Chdir("..") // torch_step.py is found from the repository root
	for _, m := range model.ModelNames() {
		r, err := startTorch(defaultPython, "mnist", m, "cpu", 4, 1)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := r.steps(2)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) != 2 || slices.Min(ns) <= 0 || r.info.Threads != 1 || r.info.GemmGFLOPs <= 0 {
			t.Errorf("%s: step times %v, setup %+v", m, ns, r.info)
		}
		if err := r.close(); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
}

// TestRoofline checks the estimate against sums done by hand: a conv's
// bytes (mnist's enc.conv1 forward at batch 64: input 64×1×28×28, weights
// 32×1×4×4, output 64×32×14×14, 4 bytes each), a linear layer's weight
// gradient (which reads and writes dw), a compute-bound product at the TF32
// and FP32 peaks, and the table's sum.
func TestRoofline(t *testing.T) {
	a, err := lookupArch("mnist")
	if err != nil {
		t.Fatal(err)
	}
	ops := archOps(a, 64)
	byName := map[string]op{}
	for _, o := range ops {
		byName[o.name] = o
	}
	conv := byName["enc.conv1 fwd"]
	if want := 4.0 * (64*28*28 + 32*4*4 + 64*32*14*14); conv.bytes != want {
		t.Errorf("enc.conv1 fwd moves %v bytes, want %v", conv.bytes, want)
	}
	sec, bound := h100.estimate(conv, true)
	if want := conv.bytes / 3.35e12; sec != want || bound != "memory" {
		t.Errorf("enc.conv1 fwd: %v s (%s), want %v s (memory)", sec, bound, want)
	}
	fc := byName["enc.fc bwd filter"] // 64 images of 64×7×7 inputs to 512 outputs
	if in, out := 64*7*7, 512; fc.bytes != 4*float64(64*in+64*out+2*in*out) {
		t.Errorf("enc.fc bwd filter moves %v bytes, want %v", fc.bytes, 4*float64(64*in+64*out+2*in*out))
	}
	g := gemmOp(2048)
	g.bytes = 3 * 4 * 2048 * 2048
	if sec, bound := h100.estimate(g, true); sec != 2*2048.0*2048*2048/495e12 || bound != "compute" {
		t.Errorf("sgemm 2048³ on TF32: %v s (%s), want %v s (compute)", sec, bound, 2*2048.0*2048*2048/495e12)
	}
	if sec, _ := h100.estimate(g, false); sec != 2*2048.0*2048*2048/67e12 {
		t.Errorf("sgemm 2048³ on FP32: %v s, want %v s", sec, 2*2048.0*2048*2048/67e12)
	}
	var buf bytes.Buffer
	writeRoofline(&buf, h100, a, 64)
	var sum float64
	for _, o := range ops {
		s, _ := h100.estimate(o, true)
		sum += s
	}
	if want := fmt.Sprintf("| **sum of %d ops** | | | | **%.1f** |", len(ops), sum*1e6); !strings.Contains(buf.String(), want) {
		t.Errorf("the table lacks %q:\n%s", want, buf.String())
	}
}
