package steptest

import (
	"fmt"
	"math"
	"testing"

	"github.com/vaegan-go/vaegan/backend"
	"github.com/vaegan-go/vaegan/data"
	"github.com/vaegan-go/vaegan/model"
)

// TrainDefault trains the VAE-GAN with the trainer command's defaults for
// mnist (batch 64, seed 1, the architecture's equilibrium rule, weight
// average and decoder learning rate) on b for steps steps, on the batches
// the command draws from the MNIST training images in the IDX file images,
// and returns each step's result.
func TrainDefault(b backend.Backend, images string, steps int) ([]model.Result, error) {
	ds, err := data.OpenIDX(images)
	if err != nil {
		return nil, err
	}
	a, err := model.LookupArch("mnist")
	if err != nil {
		return nil, err
	}
	cfg := model.Config{Arch: "mnist", Model: model.VAEGAN, Batch: 64, Optim: model.OptimConfig{Kind: "adam"}, Seed: 1,
		EMA: a.Defaults.EMA, NoEquilibrium: !a.Defaults.Equilibrium}
	cfg.Optim.DecLR = a.Defaults.DecLRScale * cfg.Optim.LearningRate()
	tr, err := model.NewTrainer(b, cfg)
	if err != nil {
		return nil, err
	}
	l := data.NewLoader(ds, cfg.Batch, cfg.Seed, 2, data.Position{})
	defer l.Close()
	rs := make([]model.Result, steps)
	for i := range rs {
		batch, err := l.Next()
		if err != nil {
			return nil, err
		}
		if rs[i], err = tr.Step(batch.Data); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// Losses are the losses of a step's Result by the names the trainer's
// loss log and the PyTorch fixtures give them.
var Losses = []struct {
	Name string
	Of   func(model.Result) float64
}{
	{"kl", func(r model.Result) float64 { return r.KL }},
	{"like", func(r model.Result) float64 { return r.Like }},
	{"dis", func(r model.Result) float64 { return r.Dis }},
	{"adv", func(r model.Result) float64 { return r.Adv }},
	{"dis_real", func(r model.Result) float64 { return r.DisReal }},
	{"dis_fake", func(r model.Result) float64 { return r.DisFake }},
}

// Tolerances of CheckRunsClose. Two backends sum in different orders, and
// adversarial training amplifies the differences step by step, so a long
// run is compared by its level, not step by step.
const (
	// runEarly is how many first steps must agree step by step, to within
	// runEarlyTol of the CPU's loss plus runEarlyAtol.
	runEarly, runEarlyTol, runEarlyAtol = 10, 0.02, 0.01
	// runLate is how many last steps' mean of each loss must agree, to
	// within runLateTol of the CPU's mean plus runLateAtol.
	runLate, runLateTol, runLateAtol = 50, 0.15, 0.05
)

// CheckRunsClose compares a training run on a GPU (got) with the same run on
// the CPU (want): each loss of the first runEarly steps, and each loss's mean
// over the last runLate steps. It logs the figures.
func CheckRunsClose(t *testing.T, got, want []model.Result) {
	t.Helper()
	if len(got) != len(want) || len(got) < runEarly+runLate {
		t.Fatalf("runs of %d and %d steps; want equal lengths of at least %d", len(got), len(want), runEarly+runLate)
	}
	mean := func(rs []model.Result, of func(model.Result) float64) float64 {
		s := 0.0
		for _, r := range rs {
			s += of(r)
		}
		return s / float64(len(rs))
	}
	t.Logf("%-9s %-28s %s", "loss", fmt.Sprintf("steps 1-%d: worst |Δ|/|cpu|", runEarly), fmt.Sprintf("mean of the last %d steps: gpu, cpu", runLate))
	for _, l := range Losses {
		worst, at := 0.0, 0
		for i := range runEarly {
			g, w := l.Of(got[i]), l.Of(want[i])
			if d := math.Abs(g - w); !(d <= runEarlyTol*math.Abs(w)+runEarlyAtol) {
				t.Errorf("%s at step %d: %.6g on the GPU, %.6g on the CPU", l.Name, i+1, g, w)
			}
			if d := math.Abs(g-w) / math.Max(math.Abs(w), 1e-6); d >= worst {
				worst, at = d, i+1
			}
		}
		g, w := mean(got[len(got)-runLate:], l.Of), mean(want[len(want)-runLate:], l.Of)
		if !(math.Abs(g-w) <= runLateTol*math.Abs(w)+runLateAtol) {
			t.Errorf("%s: mean of the last %d steps %.6g on the GPU, %.6g on the CPU", l.Name, runLate, g, w)
		}
		t.Logf("%-9s %-28s %.4g, %.4g", l.Name, fmt.Sprintf("%.3g (step %d)", worst, at), g, w)
	}
}
