package model_test

import (
	"strings"
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
	"github.com/vaegan-go/vaegan/model"
	"github.com/vaegan-go/vaegan/model/steptest"
)

// TestStepMatchesPyTorch runs the model-step suite on the CPU backend.
func TestStepMatchesPyTorch(t *testing.T) {
	steptest.Run(t, cpu.New(2))
}

func TestFailedStepChangesNothing(t *testing.T) {
	steptest.CheckFailedStep(t, cpu.New(1))
}

// The gradients must depend on every term of the spec's routing: with γ
// changed the decoder's gradients (only) must move away from the fixture,
// with β the encoder's (only).
func TestStepFixtureDetectsWeightChanges(t *testing.T) {
	for _, c := range []struct {
		name, net string
		set       func(*model.Trainer)
	}{
		{"gamma", "dec.", func(tr *model.Trainer) { tr.Gamma = 0.5 }},
		{"beta", "enc.", func(tr *model.Trainer) { tr.Beta = 2 }},
	} {
		tr, f, x := steptest.Trainer(t, cpu.New(2), model.VAEGAN)
		c.set(tr)
		if _, err := tr.Step(x); err != nil {
			t.Fatal(err)
		}
		for _, ps := range []*model.ParamSet{&tr.Nets.Enc, &tr.Nets.Dec, &tr.Nets.Dis} {
			for _, p := range ps.Params {
				want, _ := f.Float32("grad."+p.Name, p.Shape...)
				host := make([]float32, p.G.Len())
				tr.B.Download(host, p.G)
				moved := steptest.RelErr(host, want) > steptest.Tol
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

// TestCelebAStepMatchesPyTorch: one celeba64 vaegan step (a BatchNorm before
// Dis_l) against PyTorch on the CPU backend.
func TestCelebAStepMatchesPyTorch(t *testing.T) {
	steptest.CheckCelebADigest(t, cpu.New(2), 0)
}
