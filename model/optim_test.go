package model

import (
	"math"
	"slices"
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
)

// TestDecoderLearningRate: Optim.DecLR sets the decoder's step alone. Adam's
// first step moves each weight by lr·g/(|g|+ε), so the median move is the
// learning rate: 4e-4 for the decoder, 2e-4 (Adam's default) for the
// encoder and discriminator.
func TestDecoderLearningRate(t *testing.T) {
	tr, err := NewTrainer(cpu.New(1), Config{Arch: "mnist", Model: VAEGAN, Batch: 4, Seed: 2,
		Optim: OptimConfig{Kind: "adam", DecLR: 4e-4}})
	if err != nil {
		t.Fatal(err)
	}
	nets := map[string]*ParamSet{"enc": &tr.Nets.Enc, "dec": &tr.Nets.Dec, "dis": &tr.Nets.Dis}
	before := map[string][]float32{}
	for name, ps := range nets {
		before[name] = download(tr.B, ps.W)
	}
	a, _ := LookupArch("mnist")
	x := randomBatches(1, 4, a.ImageLen(), 1)[0]
	if _, err := tr.Step(x); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"enc": 2e-4, "dec": 4e-4, "dis": 2e-4}
	for name, ps := range nets {
		after := download(tr.B, ps.W)
		moves := make([]float64, len(after))
		for i := range after {
			moves[i] = math.Abs(float64(after[i]) - float64(before[name][i]))
		}
		slices.Sort(moves)
		if med := moves[len(moves)/2]; math.Abs(med-want[name]) > 1e-3*want[name] {
			t.Errorf("%s: median weight move %.4g, want its learning rate %.4g", name, med, want[name])
		}
	}
}
