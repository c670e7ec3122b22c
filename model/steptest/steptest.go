// Package steptest is the model-step suite every backend runs, as
// backendtest is the ops suite: one whole training step of each model
// against PyTorch's (the fixtures of reference/torch/make_fixtures.py),
// comparing the losses, every parameter gradient and every running
// statistic, and steps with the equilibrium rule on each of its branches
// (Run), a failed step that must leave the state untouched
// (CheckFailedStep), and, for the CUDA backend, recorded steps against steps
// run op by op (CheckRecordedSteps). Run it from a backend's tests:
//
//	func TestSteps(t *testing.T) { steptest.Run(t, myBackend) }
package steptest

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/checkpoint"
	"github.com/vaegan-go/vaegan/model"
)

// The fixtures' set-up: weights by InitRule{7, 0.05, biases}, γ = 0.75,
// β = 1, batch 8, the rule off, Adam; eps and z_p from the noise stream
// seeded as each fixture's metadata says.
const (
	Gamma      = 0.75
	WeightSeed = 7
	Batch      = 8
	// Tol is the relative error allowed in every loss and gradient.
	Tol = 1e-4
)

// Dir is the folder of the PyTorch fixtures.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "reference", "torch", "fixtures")
}

// Trainer builds a trainer on b set up exactly as the fixture of modelName,
// and returns it with the fixture and its batch.
func Trainer(t testing.TB, b backend.Backend, modelName string) (*model.Trainer, *checkpoint.File, []float32) {
	t.Helper()
	return fixtureTrainer(t, b, "mnist_"+modelName+"_step.safetensors", "mnist", modelName, Batch, 0)
}

// fixtureTrainer reads the fixture file and builds a trainer of arch and
// modelName on b with the fixtures' set-up and the file's noise seed, and
// returns it with the file and its batch of batch images. A margin above 0
// turns the equilibrium rule on with that margin.
func fixtureTrainer(t testing.TB, b backend.Backend, file, arch, modelName string, batch int, margin float64) (*model.Trainer, *checkpoint.File, []float32) {
	t.Helper()
	f, err := checkpoint.Read(filepath.Join(Dir(), file))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := model.NewTrainer(b, model.Config{Arch: arch, Model: modelName, Batch: batch, Gamma: Gamma,
		Beta: 1, NoEquilibrium: margin == 0, Margin: margin, Optim: model.OptimConfig{Kind: "adam"}})
	if err != nil {
		t.Fatal(err)
	}
	tr.Init(model.InitRule{Seed: WeightSeed, Std: 0.05, Biases: true})
	if tr.NoiseSeed, err = strconv.ParseUint(f.Meta["noise_seed"], 10, 64); err != nil {
		t.Fatalf("%s: noise_seed: %v", f.Path, err)
	}
	a := tr.Arch
	x, err := f.Float32("x", batch, a.C, a.H, a.W)
	if err != nil {
		t.Fatal(err)
	}
	return tr, f, x
}

// RelErr is ‖got − want‖₂ / ‖want‖₂ (the absolute error when want is 0).
func RelErr(got, want []float32) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		n += float64(want[i]) * float64(want[i])
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}

// Run checks one step of every model on b against PyTorch, and both of the
// equilibrium rule's skip branches.
func Run(t *testing.T, b backend.Backend) {
	for _, m := range model.ModelNames() {
		t.Run(m, func(t *testing.T) { Check(t, b, m) })
	}
	for _, c := range equilibriumCases {
		t.Run(fmt.Sprintf("%s/margin=%v", c.model, c.margin), func(t *testing.T) { CheckEquilibrium(t, b, c.model, c.margin, c.skip) })
	}
}

// equilibriumCases put each fixture's step on one branch of the rule
// (centre 0.68). The vaegan fixture's errors (dis_real 0.503, dis_fake
// 0.398) lie below 0.68 − 0.2, so the discriminator is skipped; vaegan3's
// (1.048, 1.125) above 0.68 + 0.4, so the decoder is; at the default 0.35
// vaegan's lie inside the band and every network updates.
var equilibriumCases = []struct {
	model  string
	margin float64
	skip   string // the network the rule skips: "dis", "dec" or ""
}{{model.VAEGAN, 0.2, "dis"}, {model.VAEGAN3, 0.4, "dec"}, {model.VAEGAN, 0.35, ""}}

// CheckEquilibrium runs one step of modelName's fixture on b with the
// equilibrium rule on at margin. The rule must skip exactly the network skip
// ("dis", "dec" or "" for none), leaving its weights as they were, and give
// every other network Adam's first update from PyTorch's gradient g: w −
// lr·g/(|g| + ε), the bias corrections making the first step's moments g and
// g² (shared/spec/models.md: lr 2e-4, ε 1e-8).
func CheckEquilibrium(t *testing.T, b backend.Backend, modelName string, margin float64, skip string) {
	const lr, eps = 2e-4, 1e-8
	tr, f, x := fixtureTrainer(t, b, "mnist_"+modelName+"_step.safetensors", "mnist", modelName, Batch, margin)
	nets := map[string]*model.ParamSet{"enc": &tr.Nets.Enc, "dec": &tr.Nets.Dec, "dis": &tr.Nets.Dis}
	before := map[string][]float32{}
	for name, ps := range nets {
		before[name] = make([]float32, ps.W.Len())
		b.Download(before[name], ps.W)
	}
	r, err := tr.Step(x)
	if err != nil {
		t.Fatal(err)
	}
	if r.UpdateDis != (skip != "dis") || r.UpdateDec != (skip != "dec") {
		t.Fatalf("dis_real %.4g, dis_fake %.4g, margin %v: the rule updated the discriminator %v and the decoder %v; want the %q skipped",
			r.DisReal, r.DisFake, margin, r.UpdateDis, r.UpdateDec, skip)
	}
	for name, ps := range nets {
		after := make([]float32, ps.W.Len())
		b.Download(after, ps.W)
		for _, p := range ps.Params {
			lo := p.W.Off - ps.W.Off
			w0, w1 := before[name][lo:lo+p.W.Len()], after[lo:lo+p.W.Len()]
			if name == skip {
				if !slices.Equal(w0, w1) {
					t.Errorf("%s: changed by a step whose rule skipped %s", p.Name, name)
				}
				continue
			}
			g, err := f.Float32("grad."+p.Name, p.W.Shape...)
			if err != nil {
				t.Fatal(err)
			}
			var rms float64
			for _, v := range g {
				rms += float64(v) * float64(v)
			}
			rms = math.Sqrt(rms / float64(len(g)))
			for i := range g {
				gi := float64(g[i])
				want := float64(w0[i]) - lr*gi/(math.Abs(gi)+eps)
				tol := 1e-3*lr + 2e-7*math.Abs(float64(w0[i]))
				if math.Abs(gi) < 1e-3*rms { // a sign the backend's float32 gradient may not share: any step up to lr
					want, tol = float64(w0[i]), lr*(1+1e-3)
				}
				if d := math.Abs(float64(w1[i]) - want); d > tol {
					t.Fatalf("%s[%d]: %.8g after the step, want %.8g (before %.8g, PyTorch's gradient %.3g)", p.Name, i, w1[i], want, w0[i], gi)
				}
			}
		}
	}
}

// Check runs one step of modelName on b and compares its losses, every
// parameter gradient and every running statistic with PyTorch's.
func Check(t *testing.T, b backend.Backend, modelName string) {
	tr, f, x := Trainer(t, b, modelName)
	r, err := tr.Step(x)
	if err != nil {
		t.Fatal(err)
	}
	type loss struct {
		name string
		got  float64
	}
	enc := []loss{{"loss.kl", r.KL}, {"loss.like", r.Like}}
	dis := []loss{{"loss.dis", r.Dis}, {"loss.adv", r.Adv}, {"loss.dis_real", r.DisReal}, {"loss.dis_fake", r.DisFake}}
	losses := map[string][]loss{model.VAE: enc, model.GAN: dis}[modelName]
	if losses == nil {
		losses = append(enc, dis...)
	}
	for _, l := range losses {
		want, err := f.Float32(l.name, 1)
		if err != nil {
			t.Fatal(err)
		}
		if e := math.Abs(l.got-float64(want[0])) / math.Abs(float64(want[0])); e > Tol {
			t.Errorf("%s = %.7g, PyTorch %.7g (relative error %.2g)", l.name, l.got, want[0], e)
		}
	}
	compare := func(name string, got backend.Tensor, fixtureName string) {
		want, err := f.Float32(fixtureName, got.Shape...)
		if err != nil {
			t.Fatal(err)
		}
		host := make([]float32, got.Len())
		b.Download(host, got)
		if e := RelErr(host, want); e > Tol || math.IsNaN(e) {
			t.Errorf("%s: relative error %.2g against PyTorch", name, e)
		}
	}
	n := 0
	for _, ps := range []*model.ParamSet{&tr.Nets.Enc, &tr.Nets.Dec, &tr.Nets.Dis} {
		if ps.Size() == 0 {
			continue // the model lacks this network
		}
		for _, p := range ps.Params {
			compare("gradient of "+p.Name, p.G, "grad."+p.Name)
			n++
		}
		for _, s := range ps.Stats {
			compare(s.Name, s.T, s.Name)
		}
	}
	grads := 0
	for _, name := range f.Names() {
		if strings.HasPrefix(name, "grad.") {
			grads++
		}
	}
	if n != grads {
		t.Errorf("compared %d gradients, the fixture holds %d", n, grads)
	}
}

// CheckFailedStep checks, on b, that a step that fails (a NaN loss, or a
// gradient that is not finite) stops before any update and leaves the whole
// state as it was: the checkpoint written after it is byte for byte the one
// written before (weights, optimizer moments, running statistics, the weight
// average, the step and noise counters). γ = 1e30 is issue 9's case: finite
// losses whose decoder gradient overflows, which used to make Adam's moments
// infinite silently.
func CheckFailedStep(t *testing.T, b backend.Backend) {
	dir := t.TempDir()
	batch := func(a *model.Arch, s int) []float32 {
		x := make([]float32, 2*a.ImageLen())
		for i := range x {
			x[i] = 2*float32((i*7+s*13)%29)/28 - 1
		}
		return x
	}
	for _, m := range model.ModelNames() {
		for _, fault := range []string{"nan-pixel", "huge-gamma"} {
			if fault == "huge-gamma" && m != model.VAEGAN && m != model.VAEGAN3 {
				continue
			}
			tr, err := model.NewTrainer(b, model.Config{Arch: "mnist", Model: m, Batch: 2, Optim: model.OptimConfig{Kind: "adam"}, EMA: 0.9})
			if err != nil {
				t.Fatal(err)
			}
			for s := range 2 {
				if _, err := tr.Step(batch(tr.Arch, s)); err != nil {
					t.Fatal(err)
				}
			}
			before, after := filepath.Join(dir, "before.safetensors"), filepath.Join(dir, "after.safetensors")
			if err := tr.Save(before, nil); err != nil {
				t.Fatal(err)
			}
			x, want := batch(tr.Arch, 2), []string{"step 3", "NaN"}
			if fault == "nan-pixel" {
				x[5] = float32(math.NaN())
			} else {
				tr.Gamma = 1e30
				want = []string{"step 3", "decoder's gradient is not finite", "dec."}
			}
			_, err = tr.Step(x)
			for _, w := range want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("%s, %s: Step returned %v, want an error mentioning %q", m, fault, err, w)
				}
			}
			if err := tr.Save(after, nil); err != nil {
				t.Fatal(err)
			}
			b1, _ := os.ReadFile(before)
			b2, _ := os.ReadFile(after)
			if !bytes.Equal(b1, b2) {
				t.Errorf("%s, %s: the failed step changed the trainer's state (checkpoints differ)", m, fault)
			}
		}
	}
}

// CheckCelebADigest runs one vaegan step of the celeba64 nets on b (a
// BatchNorm before Dis_l, so L_like's gradient reaches the real rows'
// statistics, which mnist's nets never exercise) against PyTorch's
// (celeba64_vaegan_step_digest.safetensors, batch 4): the losses and running
// statistics in full, each parameter gradient by its digest (norm, sum and
// 16 sampled elements; the full gradients would take hundreds of MB).
//
// On these nets float32 arithmetic alone costs more than Tol: PyTorch's own
// float32 step is up to 1.7e-3 (the norm of the difference over the norm)
// from its float64 one in the encoder's gradients, and this trainer's CPU
// step was measured as far, gradient by gradient, to two digits. So each
// gradient g is held to tol = max(Tol, 3·e32), with e32 the fixture's
// float32 error of that gradient ("f32err.<name>"), and each digest entry to
// what a gradient within tol of its norm allows: the norm and every element
// within tol·‖g‖, the sum within tol·‖g‖·√n. floor raises tol for backends
// whose float32 sums run in another order than PyTorch's CPU (the CUDA
// backend: see its tests).
func CheckCelebADigest(t *testing.T, b backend.Backend, floor float64) {
	tr, f, x := fixtureTrainer(t, b, "celeba64_vaegan_step_digest.safetensors", "celeba64", model.VAEGAN, 4, 0)
	r, err := tr.Step(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		name string
		got  float64
	}{{"loss.kl", r.KL}, {"loss.like", r.Like}, {"loss.dis", r.Dis}, {"loss.adv", r.Adv}, {"loss.dis_real", r.DisReal}, {"loss.dis_fake", r.DisFake}} {
		want, err := f.Float32(l.name, 1)
		if err != nil {
			t.Fatal(err)
		}
		if e := math.Abs(l.got-float64(want[0])) / math.Abs(float64(want[0])); e > Tol {
			t.Errorf("%s = %.7g, PyTorch %.7g (relative error %.2g)", l.name, l.got, want[0], e)
		}
	}
	worst := 0.0
	for _, ps := range []*model.ParamSet{&tr.Nets.Enc, &tr.Nets.Dec, &tr.Nets.Dis} {
		for _, p := range ps.Params {
			want, err := f.Float32("digest."+p.Name, 2+16)
			if err != nil {
				t.Fatal(err)
			}
			e32, err := f.Float32("f32err."+p.Name, 1)
			if err != nil {
				t.Fatal(err)
			}
			tol := max(Tol, 3*float64(e32[0]), floor)
			g := make([]float32, p.G.Len())
			b.Download(g, p.G)
			n := len(g)
			var norm, sum float64
			for _, v := range g {
				norm += float64(v) * float64(v)
				sum += float64(v)
			}
			got := []float64{math.Sqrt(norm), sum}
			for k := range 16 {
				got = append(got, float64(g[int(math.Round(float64(k)*float64(n-1)/15))]))
			}
			scale := float64(want[0])
			for k, v := range got {
				bound := tol * scale
				if k == 1 {
					bound *= math.Sqrt(float64(n))
				}
				d := math.Abs(v - float64(want[k]))
				if k != 1 {
					worst = math.Max(worst, d/scale)
				}
				if d > bound || math.IsNaN(v) {
					t.Errorf("gradient of %s: digest entry %d = %.7g, PyTorch %.7g (allowed %.2g)", p.Name, k, v, want[k], bound)
				}
			}
		}
		for _, s := range ps.Stats {
			want, err := f.Float32(s.Name, s.T.Shape...)
			if err != nil {
				t.Fatal(err)
			}
			host := make([]float32, s.T.Len())
			b.Download(host, s.T)
			if e := RelErr(host, want); e > Tol || math.IsNaN(e) {
				t.Errorf("%s: relative error %.2g against PyTorch", s.Name, e)
			}
		}
	}
	t.Logf("largest difference of a gradient's norm or sampled element: %.2g of the gradient's norm", worst)
}
