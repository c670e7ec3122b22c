package model

import (
	"math"
	"testing"

	"github.com/vaegan-go/vaegan/backend/cpu"
)

// The decoder's weight average follows avg ← d·avg + (1−d)·w after every
// decoder update (computed here in float64 from the downloaded weights),
// and Decode decodes with it: the same images as a trainer whose decoder
// weights are the average.
func TestWeightAverage(t *testing.T) {
	const d = 0.8
	cfg := Config{Arch: "mnist", Model: VAEGAN, Batch: 4, Optim: OptimConfig{Kind: "adam"}, Seed: 5, EMA: d, NoEquilibrium: true}
	tr, err := NewTrainer(cpu.New(2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := download(tr.B, tr.Nets.Dec.W)
	avg := make([]float64, len(w))
	for i, v := range w {
		avg[i] = float64(v)
	}
	for s := 0; s < 3; s++ {
		if _, err := tr.Step(batchFor(tr.Arch, 4, s)); err != nil {
			t.Fatal(err)
		}
		for i, v := range download(tr.B, tr.Nets.Dec.W) {
			avg[i] = d*avg[i] + (1-d)*float64(v)
		}
	}
	got := download(tr.B, tr.ema.avg)
	worst := 0.0
	for i := range avg {
		worst = max(worst, math.Abs(float64(got[i])-avg[i]))
	}
	if worst > 1e-6 {
		t.Errorf("weight average after 3 steps differs from d·avg + (1−d)·w by up to %g, want ≤ 1e-6", worst)
	}

	z := Prior(3, tr.Arch.Latent, 9)
	x, err := tr.Decode(z)
	if err != nil {
		t.Fatal(err)
	}
	plain := cfg
	plain.EMA = 0
	ref, _ := NewTrainer(cpu.New(2), plain)
	ref.B.Upload(ref.Nets.Dec.W, got)
	for _, st := range tr.Nets.Dec.Stats {
		for _, rs := range ref.Nets.Dec.Stats {
			if rs.Name == st.Name {
				ref.B.Upload(rs.T, download(tr.B, st.T))
			}
		}
	}
	want, err := ref.Decode(z)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if x[i] != want[i] {
			t.Fatalf("Decode with a weight average: pixel %d is %v, want %v (decoded with the averaged weights)", i, x[i], want[i])
		}
	}
	if w := download(tr.B, tr.Nets.Dec.W); w[0] == got[0] && w[1] == got[1] {
		t.Errorf("after Decode the decoder holds the averaged weights: the trained ones must be restored")
	}
}
