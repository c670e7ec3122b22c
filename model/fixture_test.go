package model

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/checkpoint"
)

// The step fixtures are one whole training step of each model computed by
// PyTorch (reference/torch/make_fixtures.py) on weights and noise both sides
// draw from the Philox stream: parameters by InitRule{7, 0.05, biases},
// eps and z_p from the noise stream seeded as the fixture's metadata says.
const (
	fixtureDir        = "../reference/torch/fixtures/"
	fixtureGamma      = 0.75
	fixtureWeightSeed = 7
	fixtureBatch      = 8
	fixtureTol        = 1e-4 // relative error, losses and gradients
)

// fixtureTrainer builds a trainer set up exactly as the fixture's step.
func fixtureTrainer(t *testing.T, b backend.Backend, modelName string) (*Trainer, *checkpoint.File, []float32) {
	t.Helper()
	f, err := checkpoint.Read(fixtureDir + "mnist_" + modelName + "_step.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(b, Config{Arch: "mnist", Model: modelName, Batch: fixtureBatch, Gamma: fixtureGamma,
		Beta: 1, NoEquilibrium: true, Optim: OptimConfig{Kind: "adam"}})
	if err != nil {
		t.Fatal(err)
	}
	tr.Init(InitRule{Seed: fixtureWeightSeed, Std: 0.05, Biases: true})
	if tr.NoiseSeed, err = strconv.ParseUint(f.Meta["noise_seed"], 10, 64); err != nil {
		t.Fatalf("%s: noise_seed: %v", f.Path, err)
	}
	x, err := f.Float32("x", fixtureBatch, 1, 28, 28)
	if err != nil {
		t.Fatal(err)
	}
	return tr, f, x
}

// relErr is ‖got − want‖₂ / ‖want‖₂ (the absolute error when want is 0).
func relErr(got, want []float32) float64 {
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

// checkStepFixture runs one step and compares the model's losses, every
// parameter gradient and every running statistic with PyTorch's.
func checkStepFixture(t *testing.T, b backend.Backend, modelName string) {
	tr, f, x := fixtureTrainer(t, b, modelName)
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
	losses := map[string][]loss{VAE: enc, GAN: dis}[modelName]
	if losses == nil {
		losses = append(enc, dis...)
	}
	for _, l := range losses {
		want, err := f.Float32(l.name, 1)
		if err != nil {
			t.Fatal(err)
		}
		if e := math.Abs(l.got-float64(want[0])) / math.Abs(float64(want[0])); e > fixtureTol {
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
		if e := relErr(host, want); e > fixtureTol || math.IsNaN(e) {
			t.Errorf("%s: relative error %.2g against PyTorch", name, e)
		}
	}
	n := 0
	for _, ps := range tr.nets() {
		if ps == nil {
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

func TestStepMatchesPyTorch(t *testing.T) {
	for _, m := range ModelNames() {
		t.Run(m, func(t *testing.T) { checkStepFixture(t, cpu.New(2), m) })
	}
}

// The gradients must depend on every term of the spec's routing: with γ
// changed the decoder's gradients (only) must move away from the fixture,
// with β the encoder's (only).
func TestStepFixtureDetectsWeightChanges(t *testing.T) {
	for _, c := range []struct {
		name, net string
		set       func(*Trainer)
	}{
		{"gamma", "dec.", func(tr *Trainer) { tr.Gamma = 0.5 }},
		{"beta", "enc.", func(tr *Trainer) { tr.Beta = 2 }},
	} {
		tr, f, x := fixtureTrainer(t, cpu.New(2), VAEGAN)
		c.set(tr)
		if _, err := tr.Step(x); err != nil {
			t.Fatal(err)
		}
		for _, ps := range tr.nets() {
			for _, p := range ps.Params {
				want, _ := f.Float32("grad."+p.Name, p.Shape...)
				host := make([]float32, p.G.Len())
				tr.B.Download(host, p.G)
				moved := relErr(host, want) > fixtureTol
				inNet := strings.HasPrefix(p.Name, c.net)
				if p.Name == "enc.mu.bias" {
					// The decoder's first BatchNorm makes L_like blind to a shift
					// of z shared by the batch: L_like adds 0 to this gradient.
					inNet = false
				}
				if moved != inNet {
					t.Errorf("%s changed: %s's gradient moved = %v, want %v", c.name, p.Name, moved, inNet)
				}
			}
		}
	}
}
